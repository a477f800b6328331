"""General-domain "replay" documents (cooking, history, sports, technology, travel, gardening, money, nature).

MEDITRON mixed ~1% general web text into pretraining to limit forgetting; these play that role in the sample. They are
hand-written seeds expanded by small templates, so that 80 documents of 300 to 2,000 characters read naturally.
"""

from __future__ import annotations

import itertools
import random

RECIPES = (
    ("lentil soup", ("red lentils", "an onion", "two carrots", "a garlic clove", "ground cumin", "vegetable stock",
                     "a lemon"),
     ("Soften the chopped onion and carrots in a little oil for about eight minutes.",
      "Add the garlic and cumin and stir for one minute, until fragrant.",
      "Tip in the rinsed lentils and the stock, bring to the boil, then simmer for twenty minutes.",
      "Blend half of the soup for a creamier texture and finish with a squeeze of lemon.")),
    ("banana bread", ("three ripe bananas", "soft butter", "brown sugar", "two eggs", "plain flour",
                      "baking soda", "a pinch of salt"),
     ("Heat the oven to 175°C and line a loaf tin.", "Mash the bananas and beat in the butter, sugar and eggs.",
      "Fold in the flour, baking soda and salt until just combined; overmixing makes the loaf tough.",
      "Bake for about 55 minutes, until a skewer comes out clean, and cool in the tin for ten minutes.")),
    ("tomato risotto", ("arborio rice", "a shallot", "a glass of white wine", "passata", "hot stock", "parmesan",
                        "basil"),
     ("Cook the diced shallot gently in butter without letting it colour.",
      "Add the rice and toast it for two minutes, then pour in the wine and let it evaporate.",
      "Add the passata, then the hot stock a ladle at a time, stirring, for about eighteen minutes.",
      "Take the pan off the heat, beat in the parmesan and a knob of butter, and rest for two minutes.")),
    ("chickpea curry", ("two tins of chickpeas", "an onion", "ginger", "garlic", "curry powder",
                        "a tin of chopped tomatoes", "coconut milk", "fresh coriander"),
     ("Fry the onion until golden, then add grated ginger and garlic.",
      "Stir in the curry powder and cook for a minute so the spices lose their raw taste.",
      "Add the tomatoes, coconut milk and drained chickpeas and simmer for fifteen minutes.",
      "Season, scatter over the coriander and serve with rice or flatbread.")),
    ("oat pancakes", ("rolled oats", "milk", "an egg", "baking powder", "a ripe banana", "cinnamon"),
     ("Blend all the ingredients into a smooth batter and let it stand for five minutes.",
      "Heat a non-stick pan over a medium flame and brush it with a little oil.",
      "Cook small ladlefuls for two minutes on each side, until bubbles appear and the edges set.",
      "Serve with yoghurt and berries.")),
    ("roast vegetables", ("a butternut squash", "two red onions", "peppers", "olive oil", "rosemary", "sea salt"),
     ("Heat the oven to 200°C.", "Cut the vegetables into pieces of a similar size so they cook evenly.",
      "Toss them with the oil, rosemary and salt and spread them out in one layer.",
      "Roast for 35 to 40 minutes, turning once, until the edges are caramelised.")),
)

HISTORY = (
    "The printing press developed by Johannes Gutenberg in Mainz around 1440 combined movable metal type, an "
    "oil-based ink and a screw press adapted from wine making. Books that had taken scribes months to copy could be "
    "produced in hundreds of identical copies, and within fifty years presses were at work in more than two hundred "
    "European towns. Historians still debate how quickly literacy rose as a result, but the spread of pamphlets, "
    "calendars and scientific works changed how ideas travelled.",
    "The Great Fire of London began in a bakery on Pudding Lane in September 1666 and burned for four days. Strong "
    "easterly winds and closely packed timber houses helped it spread, and it destroyed most of the medieval city, "
    "including the old St Paul's Cathedral. The rebuilding that followed required brick and stone walls, and "
    "Christopher Wren designed the new cathedral and dozens of city churches.",
    "The Rosetta Stone, found in 1799 by French soldiers in the Nile delta, carries the same decree in hieroglyphic, "
    "Demotic and ancient Greek scripts. Because scholars could read the Greek, the stone gave them a key to the "
    "other two. Jean-François Champollion announced his decipherment of hieroglyphs in 1822, opening three "
    "thousand years of Egyptian writing to study.",
    "Roman aqueducts carried water over long distances using nothing but a gentle, continuous downhill slope. "
    "Engineers surveyed routes with simple instruments, cut tunnels through hills and built arcades across valleys. "
    "Most of the channel length ran underground, which protected the water and made the system harder to attack; "
    "the famous bridges were only the visible part.",
    "The first transcontinental railroad in the United States was completed in May 1869, when the Central Pacific "
    "and Union Pacific lines met at Promontory Summit in Utah. A journey across the continent that had taken months "
    "by wagon could now be made in about a week. Much of the hardest work was done by immigrant labourers, many "
    "of them from China, whose contribution was long overlooked.",
    "The Silk Road was never a single road but a shifting web of caravan routes linking China with Central Asia, "
    "Persia and the Mediterranean. Silk moved west, while horses, glass, silver and new religions moved in both "
    "directions. Few traders travelled the whole distance; goods passed from hand to hand through oasis towns such "
    "as Samarkand and Kashgar.",
    "In July 1969 the Apollo 11 lunar module landed in the Sea of Tranquillity, and Neil Armstrong and Buzz Aldrin "
    "spent about two and a half hours walking on the surface while Michael Collins orbited above. They collected "
    "rock samples, set up experiments and planted a flag before returning safely to Earth four days later.",
    "The Panama Canal opened in 1914 after a decade of American construction that followed an earlier, failed "
    "French attempt. Instead of cutting a channel at sea level, engineers dammed the Chagres River to create "
    "Gatun Lake and used locks to lift ships about 26 metres above the oceans. The canal shortened the voyage "
    "between New York and San Francisco by thousands of kilometres.",
)

SPORTS_TEAMS = ("Harbour City", "Millbrook Rovers", "Eastfield United", "Riverside Athletic", "Northgate Town",
                "Westbury Wanderers", "Kingsport Albion", "Lakeside Celtic")
TECH = (
    ("back up your phone photos", "Photos are often the only copy of memories that matter. Turn on the automatic "
     "backup offered by your phone's photo app, and check that it runs on Wi-Fi so you do not use your data "
     "allowance. Once a month, copy the newest folder to an external drive as a second, offline copy.",
     "The rule many technicians use is three copies, on two different kinds of storage, with one kept away from "
     "home. It sounds excessive until a phone is lost or a cloud account is locked."),
    ("choose a laptop for studying", "Start with the software you will need. Most course work runs on any recent "
     "machine, but programming, video editing and statistics packages benefit from more memory. Sixteen gigabytes "
     "of RAM and a solid-state drive make more difference to everyday speed than the fastest processor.",
     "Battery life matters more than benchmark scores if you move between lecture halls and libraries. Try the "
     "keyboard in a shop if you can: you will type hundreds of thousands of words on it."),
    ("make your home Wi-Fi faster", "Put the router in a central, raised position, away from microwaves and "
     "thick walls. Many routers still broadcast on a crowded channel; the settings page usually lets you choose a "
     "less busy one or switch to the 5 GHz band for devices that are close by.",
     "If some rooms remain slow, a mesh system with two or three units usually works better than a single range "
     "extender, which halves the speed of everything connected through it."),
    ("write stronger passwords", "A long passphrase made of four or five unrelated words is easier to remember and "
     "harder to guess than a short string of symbols. Use a different password for every account, because a leak "
     "from one website is often tried against many others.",
     "A password manager removes the need to remember them all, and turning on two-step verification protects an "
     "account even when a password is stolen."),
    ("understand how a spreadsheet formula works", "Every formula starts with an equals sign and is recalculated "
     "whenever a cell it refers to changes. Relative references shift when you copy a formula to another cell, "
     "while absolute references, marked with dollar signs, stay fixed.",
     "When a result looks wrong, click the cell and follow the highlighted references; most errors come from a "
     "range that stops one row too early."),
)

CITIES = (
    ("Lisbon", "Portugal", "steep cobbled streets, yellow trams and viewpoints over the river Tagus",
     "custard tarts and grilled sardines", "spring and early autumn"),
    ("Kyoto", "Japan", "wooden temples, moss gardens and the bamboo grove at Arashiyama",
     "tofu dishes and seasonal sweets", "late autumn, when the maples turn red"),
    ("Edinburgh", "Scotland", "the castle on its volcanic rock, the Old Town closes and Arthur's Seat",
     "smoked fish and oatcakes", "late spring, before the August festival crowds"),
    ("Oaxaca", "Mexico", "colonial churches, craft markets and the ruins of Monte Albán nearby",
     "mole sauces and hot chocolate", "the dry season from November to April"),
    ("Hoi An", "Vietnam", "an old town of merchant houses lit by lanterns along the river",
     "cao lầu noodles and fresh herbs", "February to April"),
    ("Cape Town", "South Africa", "Table Mountain, the harbour and the beaches of the peninsula",
     "grilled fish and Cape Malay curries", "the southern summer, from November to March"),
    ("Bergen", "Norway", "painted wharf houses, a funicular to the hills and the fjords beyond",
     "fish soup and cinnamon buns", "June to August"),
    ("Marrakesh", "Morocco", "the great square, covered souks and quiet riad courtyards",
     "tagines and mint tea", "March to May"),
)

GARDEN = (
    ("tomatoes", "Sow the seeds indoors about six weeks before the last frost and plant them out when nights stay "
     "above 10°C. Pinch out the side shoots of cordon varieties and water deeply twice a week rather than a little "
     "every day; irregular watering causes split fruit."),
    ("a compost heap", "Mix green material such as grass cuttings and vegetable peelings with brown material such "
     "as cardboard and dry leaves. Turning the heap every few weeks adds air and speeds up decomposition; a heap "
     "that smells is usually too wet or too green."),
    ("herbs on a windowsill", "Basil, parsley and chives grow well in pots on a bright windowsill. Use a "
     "free-draining compost, water when the surface feels dry and cut the stems regularly so the plants stay "
     "bushy instead of flowering."),
    ("a wildlife pond", "Even a small pond attracts frogs, dragonflies and birds. Give it one gently sloping side "
     "so animals can climb out, fill it with rainwater rather than tap water, and leave some plants at the edge "
     "uncut for shelter."),
)

MONEY = (
    ("make a monthly budget", "List your income after tax, then the fixed costs that arrive every month: rent, "
     "energy, transport and subscriptions. What remains has to cover food, savings and everything else. Tracking "
     "spending for a few weeks usually shows one or two categories that are much larger than expected."),
    ("build an emergency fund", "An emergency fund covers an unexpected bill without borrowing. Many advisers "
     "suggest three months of essential costs, built up gradually by an automatic transfer on pay day into a "
     "separate account that is easy to reach but not linked to a card."),
    ("understand compound interest", "Compound interest is interest earned on earlier interest. At 5% a year, 1,000 "
     "becomes 1,050 after one year and about 1,629 after ten, because each year's growth is calculated on a larger "
     "sum. The same arithmetic works against you on debts that are not repaid."),
)

MORE = (
    "The water cycle moves water between the oceans, the air and the land. Sunlight evaporates water from seas and "
    "lakes, plants release vapour through their leaves, and the moist air rises and cools until the vapour condenses "
    "into clouds. Rain and snow return the water to the surface, where it runs off into rivers, soaks into the "
    "ground or is stored for centuries in ice sheets.",
    "Honeybees communicate the location of food with a waggle dance. A returning forager runs a short straight line "
    "on the comb while shaking her body; the angle of the run relative to vertical gives the direction of the "
    "flowers relative to the sun, and the length of the waggle encodes the distance.",
    "Volcanoes form where molten rock reaches the surface, most often at the edges of tectonic plates. Where one "
    "plate slides beneath another, the melted rock is thick and gassy and eruptions can be explosive; at spreading "
    "ridges and hot spots such as Hawaii, runny lava flows out more gently.",
    "A rainbow appears when sunlight enters raindrops, bends, reflects off the back of each drop and bends again on "
    "the way out. Because each colour bends by a slightly different amount, the light spreads into a band, with red "
    "on the outside of the arc and violet on the inside. You only see one with the sun behind you.",
    "Migrating birds navigate with several cues at once: the position of the sun, the patterns of stars, the "
    "Earth's magnetic field and familiar landmarks. Young birds of some species make their first long journey alone "
    "and still reach wintering grounds they have never seen.",
    "Tides are caused mainly by the pull of the Moon on the oceans, with a smaller contribution from the Sun. When "
    "Sun, Moon and Earth line up at new and full moon, the effects add together and produce spring tides with the "
    "largest range; at the quarter moons the smaller neap tides follow.",
    "Cricket is played between two teams of eleven. One side bats while the other bowls and fields, and the batting "
    "side scores runs by running between the wickets or hitting the ball to the boundary. A batter is out if the "
    "ball hits the stumps, if a hit is caught before it bounces, or in several less common ways.",
    "Training for a first marathon usually takes four to five months. Most plans build the long weekend run "
    "gradually, by no more than about ten percent a week, with easier weeks every so often to let the body adapt. "
    "Practising with the drinks and snacks you will use on race day avoids unpleasant surprises.",
    "In tennis, points run 15, 30, 40 and game, and a player must win a game by two clear points after deuce. Sets "
    "are usually won by the first player to six games with a two-game lead, and a tie-break decides most sets that "
    "reach six games all.",
    "Basketball was invented in 1891 by James Naismith, a physical education teacher in Massachusetts, who wanted an "
    "indoor game for the winter months. The first baskets were peach baskets nailed to a balcony, and someone had to "
    "climb a ladder to retrieve the ball after every score.",
    "The library in our town reopened last spring after a year of renovation. The old reading room kept its tall "
    "windows, but the shelves were lowered so that light reaches the back of the hall, and a children's corner now "
    "fills what used to be a storeroom. On Saturday mornings it is the busiest place on the high street.",
    "My grandmother kept a notebook of every cake she baked for forty years, with the date, the occasion and a short "
    "verdict. Some entries are only a word long: 'sunk', 'perfect', 'too sweet for Tom'. Reading it now is like "
    "reading a family diary written in flour and sugar.",
    "The night train left the city a little before ten. By the time the lights of the suburbs had faded, most "
    "passengers had folded down their bunks, and the only sound was the steady rhythm of the wheels. At dawn the "
    "window showed mountains that had not been there the evening before.",
    "A good night's sleep starts hours before bedtime. Daylight in the morning helps set the body clock, caffeine "
    "late in the afternoon can linger for hours, and a cool, dark, quiet bedroom makes it easier to fall asleep. "
    "Keeping roughly the same wake-up time every day, weekends included, helps most people.",
    "Electric cars use a battery and one or more motors instead of a fuel tank and an engine. They are quiet and "
    "quick off the line, and charging at home overnight costs less per kilometre than petrol in most countries. "
    "Range has improved steadily, although cold weather still reduces it noticeably.",
    "Learning to touch type takes a few weeks of short daily practice. Keep your fingers on the home row, look at "
    "the screen rather than the keys, and accept being slow at first; speed follows accuracy, not the other way "
    "round.",
    "The old harbour town of Tobermory on the Isle of Mull is known for its row of brightly painted houses along "
    "the waterfront. Ferries link the island to the mainland, and boat trips leave in summer to look for seabirds, "
    "seals and, with luck, whales.",
    "Patagonia stretches across the southern tip of South America, shared by Argentina and Chile. Visitors come for "
    "the granite towers of Torres del Paine, the glaciers that calve into turquoise lakes and the long empty roads "
    "across the steppe, where the wind rarely stops blowing.",
    "Sourdough bread relies on a starter, a mixture of flour and water colonised by wild yeasts and lactic acid "
    "bacteria. Fed regularly, it doubles in size within a few hours. The long fermentation gives the bread its tang "
    "and open crumb, and a very hot oven with steam gives it a crisp crust.",
    "The Hanseatic League was a network of merchant guilds and market towns that dominated trade in the Baltic and "
    "North Sea from the thirteenth to the fifteenth century. Towns such as Lübeck, Hamburg and Bergen shared "
    "privileges, warehouses and legal customs, and the brick churches and guild halls of that era still stand.",
    "Chess openings are sequences of moves that players study so they can reach a good middle game. Beginners are "
    "usually advised to control the centre, develop knights and bishops quickly and castle early, rather than "
    "memorise long lines they do not understand.",
)


def _recipe(rng: random.Random, dish: str, ingredients: tuple[str, ...], steps: tuple[str, ...]) -> str:
    serves = rng.choice((2, 4, 6))
    intro = rng.choice((
        f"This {dish} is a weeknight favourite: it uses cupboard ingredients and takes less than an hour.",
        f"A good {dish} needs no special equipment, just a little patience at the stove.",
        f"Everyone should have a reliable recipe for {dish}. This version serves {serves}.",
    ))
    body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
    tip = rng.choice(("It keeps in the fridge for three days and freezes well.",
                      "Leftovers make an excellent lunch the next day.",
                      "Taste and adjust the seasoning just before serving."))
    return f"{intro}\n\nIngredients: {', '.join(ingredients)}.\n\nMethod:\n{body}\n\n{tip}"


MATCH_OPEN = (
    "The visitors started brightly and forced two early saves from the home goalkeeper.",
    "A cold wind swirled around the ground and neither side settled in the opening exchanges.",
    "On a heavy pitch after a week of rain, both teams struggled to keep the ball on the ground.",
    "The home side pressed high from the first whistle and pinned their opponents back.",
    "It took almost twenty minutes for either team to string three passes together.",
    "Both sides were missing their captains through injury, and it showed early on.",
    "A minute's applause for a former player preceded a frantic start.",
    "The pitch had been relaid in the summer and the ball zipped across it.",
    "Kick-off was delayed by a quarter of an hour while fans queued at the turnstiles.",
    "A new formation with three centre-backs took the visitors a while to get used to.",
)
MATCH_EVENTS = (
    "A curling free kick from the edge of the area struck the crossbar.",
    "The referee waved away two strong penalty appeals in quick succession.",
    "A goal-line clearance kept the scores level just before the interval.",
    "The winger's low cross was turned in at the near post.",
    "A header from a corner looped over the goalkeeper and in off the far post.",
    "A long-range effort deflected off a defender and wrong-footed the keeper.",
    "The substitute made an immediate impact, setting up a chance with his first touch.",
    "A mistake at the back gifted the opposition a simple tap-in.",
    "The goalkeeper saved a penalty, diving low to his left.",
    "A red card for a late tackle left the away side with ten men.",
    "The video review overturned a goal for a handball nobody in the stands had seen.",
    "A counter-attack from a home corner ended with a shot into the empty net.",
    "The captain limped off after an hour and the rhythm of the game changed.",
    "A volley from twenty yards flew into the top corner.",
    "Floodlight failure stopped play for ten minutes midway through the half.",
    "A back-post header was cleared off the line by the full-back.",
)
MATCH_CLOSE = (
    "Both managers praised the effort of their players afterwards.",
    "The result leaves the table finely balanced with six games to play.",
    "Supporters stayed long after the final whistle to applaud the squad off the pitch.",
    "The two clubs meet again in the cup quarter-final next month.",
    "Attention now turns to a midweek trip that could decide the season.",
    "The home manager admitted afterwards that his side had not done enough.",
    "A crowd of young fans waited by the tunnel for autographs.",
    "The league will review the incidents that led to the late bookings.",
    "It was a fourth game without defeat for the winners.",
    "Ticket sales for the next home game rose sharply the following morning.",
)


def _match(rng: random.Random, used: set[frozenset[str]]) -> str:
    """A match report; no two reports share more than one of their stock sentences (no accidental near-dups)."""
    home, away = rng.sample(SPORTS_TEAMS, 2)
    hg, ag = rng.randint(0, 4), rng.randint(0, 3)
    crowd = rng.randint(4000, 31000)
    day = rng.choice(("Saturday", "Sunday", "Tuesday night", "Friday evening"))
    if hg > ag:
        verdict = rng.choice((f"{home} beat {away} {hg}-{ag} on {day}",
                              f"A {hg}-{ag} home win over {away} lifted {home} up the table on {day}",
                              f"Goals flowed at {home}, who saw off {away} {hg}-{ag} on {day}"))
    elif hg < ag:
        verdict = rng.choice((f"{away} won {ag}-{hg} at {home} on {day}",
                              f"{home} slipped to a {hg}-{ag} home defeat against {away} on {day}",
                              f"Travelling fans celebrated as {away} took a {ag}-{hg} win from {home} on {day}"))
    else:
        verdict = rng.choice((f"{home} and {away} drew {hg}-{ag} on {day}",
                              f"There was nothing to separate {home} and {away} on {day}, the game ending {hg}-{ag}",
                              f"A share of the spoils, {hg}-{ag}, was a fair result for {home} and {away} on {day}"))
    while True:
        parts = [rng.choice(MATCH_OPEN), *rng.sample(MATCH_EVENTS, 2), rng.choice(MATCH_CLOSE)]
        pairs = {frozenset(p) for p in itertools.combinations(parts, 2)}
        if not pairs & used:
            used.update(pairs)
            break
    return f"{verdict}, watched by {crowd:,} spectators. {' '.join(parts)}"


def _travel(rng: random.Random, city: str, country: str, sights: str, food: str, season: str) -> str:
    days = rng.choice(("two", "three", "four"))
    opening = rng.choice((
        f"{city}, {country}, rewards slow exploration. In {days} days you can see {sights}, but the city is at its "
        f"best when you wander without a plan.",
        f"Most visitors give {city} only a weekend, which is a mistake. Set aside {days} days for {sights}, and "
        f"leave time to do nothing at all.",
        f"The first thing that strikes you about {city} is the light. The second is how much there is to see: "
        f"{sights}, all within reach in {days} days.",
    ))
    eat = rng.choice((
        f"Food is a large part of any visit: look for {food}, ideally where local people queue.",
        f"Eat where the menus are handwritten. In {city} that usually means {food}, served without ceremony.",
        f"Ask at your guesthouse where they eat themselves; you will be pointed towards {food}.",
    ))
    when = rng.choice((f"The best time to go is {season}.", f"Aim for {season}, when the weather is kindest.",
                       f"Locals recommend {season}; the rest of the year can be crowded or uncomfortable."))
    move = rng.choice((
        "Public transport is cheap and reliable, and much of the centre is walkable in comfortable shoes.",
        "Taxis are inexpensive, but the best way to get around is on foot or by hired bicycle.",
        f"A day pass covers buses and trains across {country.split(',')[0]} cities, and the airport link is quick.",
    ))
    tip = rng.choice(("Book popular sights a few days ahead, especially at weekends.",
                      "Carry a little cash: small shops and market stalls may not take cards.",
                      "Learn a few words of the local language; it is always appreciated."))
    return f"{opening}\n\n{eat} {when} {move}\n\n{tip}"


def _merge_short(texts: list[str], floor: int = 300) -> list[str]:
    """Join consecutive short pieces of one theme until each document reaches ``floor`` characters."""
    out: list[str] = []
    for text in texts:
        if out and len(out[-1]) < floor:
            out[-1] = f"{out[-1]}\n\n{text}"
        else:
            out.append(text)
    if len(out) > 1 and len(out[-1]) < floor:
        last = out.pop()
        out[-1] = f"{out[-1]}\n\n{last}"
    return out


def build(seed: int = 5) -> list[dict]:
    """80 distinct documents of 300-2,000 characters, ids ``replay-0001``..``replay-0080``."""
    rng = random.Random(seed)
    used: set[frozenset[str]] = set()
    texts: list[str] = [_recipe(rng, dish, ing, steps) for dish, ing, steps in RECIPES]
    texts += _merge_short(list(HISTORY))
    texts += [f"How to {topic}\n\n{a}\n\n{b}" for topic, a, b in TECH]
    texts += [_travel(rng, *c) for c in CITIES]
    texts += _merge_short([f"Growing {topic}\n\n{text}" for topic, text in GARDEN])
    texts += _merge_short([f"How to {topic}. {text}" for topic, text in MONEY])
    for group in (MORE[:6], MORE[6:10], MORE[10:13], MORE[13:16], MORE[16:18], MORE[18:]):
        texts += _merge_short(list(group))
    week = 1
    while len(texts) < 80:
        if len(texts) % 4 == 0:
            reports = "\n\n".join(_match(rng, used) for _ in range(rng.randint(3, 4)))
            texts.append(f"Weekend round-up, week {week}\n\n{reports}")
            week += 1
        else:
            texts.append(_match(rng, used))
    rng.shuffle(texts)
    return [{"id": f"replay-{i:04d}", "text": t} for i, t in enumerate(texts, start=1)]
