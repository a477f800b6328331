"""Hand-written clinical facts: one record per condition, the raw material of the sample's exam-style questions.

Each record holds a presentation (patient, complaint, history, vital signs, examination, investigations) and a few
question kinds, each with its stem, the correct answer and four plausible distractors. The facts follow standard
teaching; the wording is original to this project.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    """One question a presentation can support: the stem, the right answer, four wrong ones."""

    stem: str
    answer: str
    distractors: tuple[str, str, str, str]


@dataclass(frozen=True)
class Condition:
    key: str
    dx: str
    specialty: str
    age: tuple[int, int]
    sex: str  # "M" | "F"
    setting: str  # "ed" | "office" | "hospital"
    duration: str
    symptoms: tuple[str, ...]
    history: str
    vitals: tuple[float, int, int, str] | None
    exam: str
    labs: str
    kinds: dict[str, Kind] = field(default_factory=dict)
    age_text: str = ""  # overrides "{age}-year-old" for infants ("5-week-old")
    presentation: str = ""  # overrides "comes to ... because of ..." for patients who are brought in


def _k(stem: str, answer: str, *distractors: str) -> Kind:
    assert len(distractors) == 4, answer
    return Kind(stem, answer, tuple(distractors))  # type: ignore[arg-type]


DX = "Which of the following is the most likely diagnosis?"
NEXT = "Which of the following is the most appropriate next step in management?"
PHARM = "Which of the following is the most appropriate pharmacotherapy?"
TEST = "Which of the following is the most appropriate next step in diagnosis?"
CAUSE = "Which of the following is the most likely cause of this patient's condition?"
ORGANISM = "Which of the following is the most likely causal organism?"

CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "inferior_mi", "Acute inferior wall myocardial infarction", "cardiology", (58, 72), "M", "ed", "2 hours",
        ("crushing substernal chest pain that radiates to his jaw", "sweating and nausea"),
        "He has hypertension and type 2 diabetes mellitus and has smoked one pack of cigarettes daily for 35 years.",
        (37.0, 104, 20, "150/92"),
        "He is pale and diaphoretic. An S4 gallop is heard at the apex.",
        "An ECG shows ST-segment elevations in leads II, III, and aVF.",
        {
            "dx": _k(DX, "Acute inferior wall myocardial infarction", "Acute pericarditis", "Aortic dissection",
                     "Pulmonary embolism", "Prinzmetal angina"),
            "next": _k(NEXT, "Percutaneous coronary intervention", "Exercise stress testing",
                       "Coronary artery bypass grafting in 2 weeks", "CT angiography of the chest",
                       "Oral metoprolol and discharge home"),
            "cause": _k("Occlusion of which of the following arteries is most likely responsible for this patient's findings?",
                        "Right coronary artery", "Left anterior descending artery", "Left circumflex artery",
                        "Left main coronary artery", "Obtuse marginal artery"),
        },
    ),
    Condition(
        "pericarditis", "Acute viral pericarditis", "cardiology", (20, 34), "M", "ed", "3 days",
        ("sharp chest pain that worsens when he lies down and improves when he sits forward", "a low-grade fever"),
        "He had a sore throat and a runny nose 2 weeks ago.",
        (37.9, 98, 16, "124/78"),
        "A high-pitched scratching sound is heard best at the left sternal border with the patient leaning forward.",
        "An ECG shows diffuse ST-segment elevations with PR-segment depressions.",
        {
            "dx": _k(DX, "Acute pericarditis", "Acute myocardial infarction", "Cardiac tamponade",
                     "Pulmonary embolism", "Costochondritis"),
            "pharm": _k(PHARM, "Ibuprofen and colchicine", "Intravenous heparin", "Emergency pericardiocentesis",
                        "Oral warfarin", "Cardiac catheterization"),
            "cause": _k(CAUSE, "Coxsackievirus B infection", "Streptococcus pyogenes infection",
                        "Autoimmune reaction to myocardial antigens after infarction", "Uremia",
                        "Metastatic lung cancer"),
        },
    ),
    Condition(
        "dka", "Diabetic ketoacidosis", "endocrinology", (14, 22), "F", "ed", "1 day",
        ("abdominal pain", "repeated vomiting"),
        "She has had increased thirst and urination over the past 3 weeks and has lost 4 kg (8.8 lb).",
        (37.2, 118, 30, "98/62"),
        "Her mucous membranes are dry and her breath has a fruity odor. Breathing is deep and rapid.",
        "Serum studies show a glucose concentration of 540 mg/dL, bicarbonate of 9 mEq/L, and an anion gap of "
        "26 mEq/L. Urinalysis is positive for ketones.",
        {
            "dx": _k(DX, "Diabetic ketoacidosis", "Hyperosmolar hyperglycemic state", "Acute pancreatitis",
                     "Acute appendicitis", "Salicylate toxicity"),
            "next": _k("Which of the following is the most appropriate initial step in management?",
                       "Intravenous infusion of 0.9% saline", "Intravenous sodium bicarbonate",
                       "Subcutaneous insulin glargine", "Oral rehydration solution",
                       "Intravenous 5% dextrose in water"),
            "cause": _k("Which of the following is the most likely mechanism of this patient's acid-base disturbance?",
                        "Increased hepatic production of acetoacetate and beta-hydroxybutyrate",
                        "Loss of bicarbonate in the stool", "Accumulation of lactic acid from tissue hypoxia",
                        "Decreased renal excretion of hydrogen ions", "Ingestion of a toxic alcohol"),
        },
    ),
    Condition(
        "pulmonary_embolism", "Pulmonary embolism", "pulmonology", (30, 45), "F", "ed", "6 hours",
        ("shortness of breath", "right-sided chest pain that is worse with deep breaths"),
        "She returned from a 14-hour flight 3 days ago. Her only medication is an oral contraceptive.",
        (37.4, 116, 26, "118/76"),
        "Pulse oximetry on room air shows an oxygen saturation of 89%. The right calf is swollen and tender.",
        "An ECG shows sinus tachycardia.",
        {
            "dx": _k(DX, "Pulmonary embolism", "Spontaneous pneumothorax", "Community-acquired pneumonia",
                     "Acute pericarditis", "Panic attack"),
            "test": _k(TEST, "CT pulmonary angiography", "Chest x-ray", "Transthoracic echocardiography",
                       "Pulmonary function testing", "Cardiac stress testing"),
            "pharm": _k(PHARM, "Low-molecular-weight heparin", "Aspirin", "Clopidogrel", "Intravenous furosemide",
                        "Oral prednisone"),
        },
    ),
    Condition(
        "appendicitis", "Acute appendicitis", "surgery", (12, 25), "M", "ed", "18 hours",
        ("abdominal pain that began around the umbilicus and has moved to the right lower quadrant",
         "loss of appetite and one episode of vomiting"),
        "He has no history of serious illness.",
        (38.2, 102, 18, "122/74"),
        "There is tenderness and guarding two-thirds of the way from the umbilicus to the right anterior superior "
        "iliac spine. Palpation of the left lower quadrant causes pain in the right lower quadrant.",
        "Leukocyte count is 14,800/mm3 with 84% neutrophils.",
        {
            "dx": _k(DX, "Acute appendicitis", "Meckel diverticulitis", "Mesenteric lymphadenitis",
                     "Crohn disease", "Nephrolithiasis"),
            "next": _k(NEXT, "Appendectomy", "Colonoscopy", "Barium enema", "Upper endoscopy",
                       "Observation and repeat examination in 1 week"),
            "cause": _k("Which of the following is the most likely initial event in the pathogenesis of this condition?",
                        "Obstruction of the lumen by a fecalith", "Thrombosis of the superior mesenteric artery",
                        "Transmural granulomatous inflammation",
                        "Herniation of mucosa through the muscularis propria",
                        "Telescoping of one bowel segment into another"),
        },
    ),
    Condition(
        "pancreatitis", "Acute pancreatitis", "gastroenterology", (40, 55), "M", "ed", "12 hours",
        ("severe epigastric pain that radiates to the back", "nausea and repeated vomiting"),
        "He drinks 8 to 10 beers daily.",
        (37.8, 108, 20, "110/70"),
        "The epigastrium is tender to palpation with guarding. Bowel sounds are decreased.",
        "Serum lipase activity is 1,250 U/L.",
        {
            "dx": _k(DX, "Acute pancreatitis", "Perforated peptic ulcer", "Acute cholecystitis",
                     "Ruptured abdominal aortic aneurysm", "Acute mesenteric ischemia"),
            "next": _k(NEXT, "Intravenous fluid resuscitation with lactated Ringer solution", "Emergency laparotomy",
                       "Endoscopic retrograde cholangiopancreatography", "Intravenous imipenem",
                       "Total parenteral nutrition"),
        },
    ),
    Condition(
        "cholecystitis", "Acute cholecystitis", "surgery", (40, 52), "F", "ed", "10 hours",
        ("constant right upper quadrant pain that radiates to her right shoulder", "nausea"),
        "She has had similar but shorter episodes of pain after fatty meals.",
        (38.4, 100, 18, "132/84"),
        "There is tenderness in the right upper quadrant, and she stops inspiring abruptly during deep palpation "
        "below the right costal margin.",
        "Leukocyte count is 13,200/mm3. Serum bilirubin and lipase are within the reference ranges.",
        {
            "dx": _k(DX, "Acute cholecystitis", "Choledocholithiasis", "Acute hepatitis A", "Acute pancreatitis",
                     "Right lower lobe pneumonia"),
            "test": _k(TEST, "Ultrasonography of the right upper quadrant", "Hepatobiliary iminodiacetic acid scan",
                       "CT scan of the abdomen with contrast", "Endoscopic retrograde cholangiopancreatography",
                       "Upper gastrointestinal endoscopy"),
            "next": _k(NEXT, "Intravenous antibiotics and laparoscopic cholecystectomy",
                       "Oral ursodeoxycholic acid", "Extracorporeal shock wave lithotripsy",
                       "Percutaneous liver biopsy", "Discharge with oral analgesics"),
        },
    ),
    Condition(
        "pneumococcal_pneumonia", "Community-acquired pneumonia", "infectious disease", (60, 75), "M", "ed", "3 days",
        ("fever and a cough productive of rust-colored sputum", "right-sided chest pain with deep breaths"),
        "He has chronic obstructive pulmonary disease.",
        (39.1, 108, 24, "128/80"),
        "Crackles and bronchial breath sounds are heard over the right lower lung field, with dullness to "
        "percussion at the right base.",
        "A chest x-ray shows consolidation of the right lower lobe. A Gram stain of the sputum shows lancet-shaped "
        "gram-positive diplococci.",
        {
            "dx": _k(DX, "Community-acquired pneumonia", "Pulmonary embolism", "Acute bronchitis", "Lung abscess",
                     "Congestive heart failure"),
            "organism": _k(ORGANISM, "Streptococcus pneumoniae", "Mycoplasma pneumoniae", "Legionella pneumophila",
                           "Pneumocystis jirovecii", "Staphylococcus aureus"),
        },
    ),
    Condition(
        "hashimoto", "Hashimoto thyroiditis", "endocrinology", (35, 50), "F", "office", "6 months",
        ("fatigue", "a weight gain of 6 kg (13 lb)", "constipation"),
        "She feels cold when others are comfortable, and her menses have become heavier.",
        (36.3, 56, 14, "128/86"),
        "Her skin is dry, and the relaxation phase of the deep tendon reflexes is delayed. The thyroid gland is "
        "diffusely enlarged, firm, and nontender.",
        "Serum thyroid-stimulating hormone concentration is 18 μU/mL.",
        {
            "dx": _k(DX, "Hashimoto thyroiditis", "Graves disease", "Subacute granulomatous thyroiditis",
                     "Major depressive disorder", "Cushing syndrome"),
            "pharm": _k(PHARM, "Levothyroxine", "Methimazole", "Radioactive iodine", "Propranolol", "Prednisone"),
            "cause": _k("Further evaluation of this patient is most likely to show which of the following?",
                        "Antithyroid peroxidase antibodies", "Thyroid-stimulating immunoglobulins",
                        "Antimitochondrial antibodies", "Anti-double-stranded DNA antibodies",
                        "Anti-tissue transglutaminase antibodies"),
        },
    ),
    Condition(
        "graves", "Graves disease", "endocrinology", (25, 40), "F", "office", "3 months",
        ("palpitations", "heat intolerance", "a weight loss of 5 kg (11 lb) despite an increased appetite"),
        "She has no history of serious illness and takes no medications.",
        (37.3, 112, 16, "138/62"),
        "Her eyes appear prominent, with lid retraction. The thyroid gland is diffusely enlarged and nontender, and "
        "a bruit is heard over it. There is a fine tremor of the outstretched hands.",
        "Serum thyroid-stimulating hormone is undetectable, and free thyroxine is elevated.",
        {
            "dx": _k(DX, "Graves disease", "Toxic multinodular goiter", "Subacute thyroiditis", "Pheochromocytoma",
                     "Generalized anxiety disorder"),
            "pharm": _k("Which of the following is the most appropriate initial pharmacotherapy to control her "
                        "palpitations and tremor?", "Propranolol", "Levothyroxine", "Digoxin", "Amiodarone",
                        "Lisinopril"),
            "cause": _k(CAUSE, "Antibodies that stimulate the thyrotropin receptor",
                        "Autonomous hyperfunctioning thyroid nodules",
                        "Destruction of follicles with release of preformed hormone",
                        "A thyrotropin-secreting pituitary adenoma", "Surreptitious intake of thyroid hormone"),
        },
    ),
    Condition(
        "iron_deficiency", "Iron deficiency anemia", "hematology", (62, 75), "M", "office", "4 months",
        ("fatigue", "shortness of breath on exertion"),
        "He has never had a colonoscopy. He takes no medications.",
        (36.8, 96, 16, "126/78"),
        "His conjunctivae are pale. A test of the stool for occult blood is positive.",
        "Hemoglobin concentration is 9.1 g/dL, mean corpuscular volume is 71 μm3, and serum ferritin "
        "concentration is 6 ng/mL.",
        {
            "dx": _k(DX, "Iron deficiency anemia", "Anemia of chronic disease", "Beta-thalassemia minor",
                     "Sideroblastic anemia", "Vitamin B12 deficiency"),
            "test": _k("Which of the following is the most appropriate next step in evaluation?", "Colonoscopy",
                       "Bone marrow biopsy", "Hemoglobin electrophoresis", "Serum vitamin B12 measurement",
                       "CT scan of the head"),
        },
    ),
    Condition(
        "b12_deficiency", "Vitamin B12 deficiency", "hematology", (55, 70), "F", "office", "5 months",
        ("fatigue", "tingling in both feet", "an unsteady gait"),
        "She has vitiligo.",
        (36.9, 92, 14, "118/72"),
        "Vibration and position sense are decreased in both lower extremities, and the Romberg sign is present.",
        "Hemoglobin concentration is 9.4 g/dL and mean corpuscular volume is 114 μm3. A peripheral blood smear "
        "shows hypersegmented neutrophils.",
        {
            "dx": _k(DX, "Vitamin B12 deficiency", "Folate deficiency", "Iron deficiency anemia",
                     "Multiple sclerosis", "Myelodysplastic syndrome"),
            "cause": _k(CAUSE, "Autoantibodies against intrinsic factor", "Dietary folate deficiency",
                        "Chronic blood loss", "Lead poisoning", "Hemolysis of red blood cells"),
            "pharm": _k(PHARM, "Intramuscular cyanocobalamin", "Oral folic acid alone", "Oral ferrous sulfate",
                        "Erythropoietin", "Red blood cell transfusion"),
        },
    ),
    Condition(
        "meningococcal_meningitis", "Bacterial meningitis", "infectious disease", (18, 22), "M", "ed", "12 hours",
        ("fever", "severe headache", "neck stiffness"),
        "He is a college student who lives in a dormitory.",
        (39.4, 122, 22, "100/64"),
        "He is confused. Passive flexion of the neck causes flexion of the hips and knees. A petechial rash is "
        "present on the trunk and legs.",
        "Cerebrospinal fluid analysis shows a leukocyte count of 2,200/mm3 (92% neutrophils), a glucose "
        "concentration of 20 mg/dL, and a protein concentration of 220 mg/dL. A Gram stain shows gram-negative "
        "diplococci.",
        {
            "organism": _k(ORGANISM, "Neisseria meningitidis", "Streptococcus pneumoniae", "Listeria monocytogenes",
                           "Herpes simplex virus type 1", "Cryptococcus neoformans"),
            "pharm": _k(PHARM, "Intravenous ceftriaxone and vancomycin", "Oral amoxicillin",
                        "Intravenous acyclovir alone", "Intravenous amphotericin B", "Oral doxycycline"),
        },
    ),
    Condition(
        "nephrolithiasis", "Nephrolithiasis", "urology", (35, 50), "M", "ed", "3 hours",
        ("severe, colicky left flank pain that radiates to the groin", "nausea"),
        "He had one similar episode 2 years ago.",
        (37.0, 104, 18, "146/88"),
        "He is writhing in pain. There is left costovertebral angle tenderness.",
        "Urinalysis shows 40 erythrocytes per high-power field and no leukocytes.",
        {
            "dx": _k(DX, "Nephrolithiasis", "Acute pyelonephritis", "Abdominal aortic aneurysm",
                     "Acute appendicitis", "Renal cell carcinoma"),
            "test": _k(TEST, "Noncontrast CT scan of the abdomen and pelvis", "Intravenous pyelography",
                       "Cystoscopy", "Renal angiography", "Voiding cystourethrography"),
            "cause": _k("Which of the following is the most likely composition of the stone?", "Calcium oxalate",
                        "Uric acid", "Cystine", "Magnesium ammonium phosphate", "Xanthine"),
        },
    ),
    Condition(
        "pyelonephritis", "Acute pyelonephritis", "infectious disease", (25, 35), "F", "ed", "2 days",
        ("fever and chills", "right flank pain", "burning with urination"),
        "She has no history of serious illness.",
        (39.0, 110, 20, "118/70"),
        "There is tenderness at the right costovertebral angle.",
        "Urinalysis shows numerous leukocytes, leukocyte casts, and gram-negative rods.",
        {
            "dx": _k(DX, "Acute pyelonephritis", "Acute cystitis", "Nephrolithiasis", "Pelvic inflammatory disease",
                     "Acute interstitial nephritis"),
            "organism": _k(ORGANISM, "Escherichia coli", "Proteus mirabilis", "Staphylococcus saprophyticus",
                           "Enterococcus faecalis", "Pseudomonas aeruginosa"),
        },
    ),
    Condition(
        "ectopic_pregnancy", "Ruptured ectopic pregnancy", "obstetrics", (24, 34), "F", "ed", "5 hours",
        ("lower abdominal pain", "vaginal spotting"),
        "Her last menstrual period was 7 weeks ago. She was treated for chlamydial cervicitis 3 years ago.",
        (37.0, 118, 20, "88/56"),
        "There is left adnexal tenderness, and the cervical os is closed.",
        "A urine pregnancy test is positive. Transvaginal ultrasonography shows no intrauterine gestational sac and "
        "free fluid in the rectouterine pouch.",
        {
            "dx": _k(DX, "Ruptured ectopic pregnancy", "Threatened abortion", "Ovarian torsion",
                     "Acute appendicitis", "Ruptured corpus luteum cyst"),
            "next": _k(NEXT, "Surgical management with laparoscopy", "Intramuscular methotrexate",
                       "Dilation and curettage", "Repeat beta-hCG measurement in 48 hours", "Expectant management"),
        },
    ),
    Condition(
        "preeclampsia", "Preeclampsia with severe features", "obstetrics", (28, 34), "F", "office", "1 day",
        ("a headache", "blurred vision"),
        "She is at 34 weeks' gestation with her first child. Her blood pressure at 20 weeks' gestation was "
        "118/74 mm Hg.",
        (36.9, 88, 16, "164/108"),
        "There is 2+ pitting edema of the lower extremities. Deep tendon reflexes are 3+ bilaterally.",
        "Urinalysis shows 3+ protein. Platelet count is 142,000/mm3.",
        {
            "dx": _k(DX, "Preeclampsia with severe features", "Gestational hypertension", "Chronic hypertension",
                     "HELLP syndrome", "Eclampsia"),
            "pharm": _k("Which of the following is the most appropriate pharmacotherapy to prevent seizures?",
                        "Intravenous magnesium sulfate", "Oral hydrochlorothiazide", "Intravenous phenytoin",
                        "Oral lisinopril", "Intravenous diazepam"),
        },
    ),
    Condition(
        "angle_closure", "Acute angle-closure glaucoma", "ophthalmology", (60, 72), "F", "ed", "2 hours",
        ("severe pain in the right eye", "headache, nausea, and blurred vision with halos around lights"),
        "Her symptoms began shortly after she entered a dark movie theater.",
        (37.0, 90, 16, "150/90"),
        "The right eye is red, the cornea is hazy, and the pupil is mid-dilated and does not react to light. The "
        "globe is firm to palpation.",
        "",
        {
            "dx": _k(DX, "Acute angle-closure glaucoma", "Anterior uveitis", "Bacterial keratitis",
                     "Migraine with aura", "Central retinal artery occlusion"),
            "pharm": _k(PHARM, "Intravenous acetazolamide", "Topical atropine", "Topical prednisolone",
                        "Oral sumatriptan", "Topical erythromycin"),
        },
    ),
    Condition(
        "ischemic_stroke", "Acute ischemic stroke", "neurology", (65, 78), "M", "ed", "1 hour",
        ("weakness of the right arm and leg", "difficulty speaking"),
        "He has hypertension and atrial fibrillation, and he stopped taking warfarin 2 months ago.",
        (36.8, 98, 16, "168/94"),
        "There is a right facial droop, weakness of the right upper and lower extremities, and nonfluent speech "
        "with intact comprehension.",
        "Fingerstick glucose concentration is 112 mg/dL.",
        {
            "test": _k(TEST, "Noncontrast CT scan of the head", "MRI of the brain with gadolinium",
                       "Carotid duplex ultrasonography", "Lumbar puncture", "Electroencephalography"),
            "cause": _k("The lesion is most likely in the territory of which of the following arteries?",
                        "Left middle cerebral artery", "Right middle cerebral artery",
                        "Left anterior cerebral artery", "Left posterior cerebral artery", "Basilar artery"),
        },
    ),
    Condition(
        "subarachnoid", "Subarachnoid hemorrhage", "neurology", (40, 55), "F", "ed", "2 hours",
        ("a sudden, severe headache that began while she was lifting a box", "vomiting"),
        "She describes it as the worst headache of her life. She has autosomal dominant polycystic kidney disease.",
        (37.1, 88, 16, "172/98"),
        "There is nuchal rigidity. Neurologic examination shows no focal findings.",
        "",
        {
            "dx": _k(DX, "Subarachnoid hemorrhage", "Migraine with aura", "Subdural hematoma",
                     "Epidural hematoma", "Bacterial meningitis"),
            "cause": _k(CAUSE, "Rupture of a saccular aneurysm", "Tearing of bridging veins",
                        "Laceration of the middle meningeal artery", "Rupture of Charcot-Bouchard microaneurysms",
                        "Thrombosis of the superior sagittal sinus"),
        },
    ),
    Condition(
        "giant_cell_arteritis", "Giant cell arteritis", "rheumatology", (68, 78), "F", "office", "3 weeks",
        ("a new headache over the right temple", "pain in her jaw when chewing"),
        "She also has stiffness of the shoulders and hips every morning.",
        (37.6, 84, 14, "134/80"),
        "The right temporal artery is tender and nodular, with a diminished pulse.",
        "Erythrocyte sedimentation rate is 96 mm/h.",
        {
            "dx": _k(DX, "Giant cell arteritis", "Migraine without aura", "Trigeminal neuralgia",
                     "Temporomandibular joint disorder", "Polyarteritis nodosa"),
            "next": _k(NEXT, "Begin high-dose glucocorticoids", "Temporal artery biopsy before any treatment",
                       "Oral ibuprofen", "MRI of the brain", "Oral sumatriptan"),
            "cause": _k("Without treatment, this patient is at greatest risk for which of the following?",
                        "Irreversible vision loss", "Renal failure", "Intestinal perforation",
                        "Coronary artery aneurysm", "Hemoptysis"),
        },
    ),
    Condition(
        "gout", "Acute gouty arthritis", "rheumatology", (50, 65), "M", "ed", "8 hours",
        ("severe pain and swelling of the right great toe that woke him from sleep",),
        "He has hypertension treated with hydrochlorothiazide and drinks beer most evenings.",
        (37.7, 92, 16, "148/92"),
        "The first metatarsophalangeal joint is erythematous, warm, swollen, and exquisitely tender.",
        "Arthrocentesis yields fluid containing needle-shaped crystals that are negatively birefringent under "
        "polarized light.",
        {
            "dx": _k(DX, "Acute gouty arthritis", "Pseudogout", "Septic arthritis", "Cellulitis",
                     "Reactive arthritis"),
            "pharm": _k(PHARM, "Oral indomethacin", "Allopurinol", "Probenecid", "Intravenous vancomycin",
                        "Febuxostat"),
            "cause": _k("The crystals in the joint fluid are most likely composed of which of the following?",
                        "Monosodium urate", "Calcium pyrophosphate dihydrate", "Calcium oxalate", "Cholesterol",
                        "Hydroxyapatite"),
        },
    ),
    Condition(
        "rheumatoid_arthritis", "Rheumatoid arthritis", "rheumatology", (35, 50), "F", "office", "4 months",
        ("pain and stiffness in both hands that lasts about 2 hours each morning", "fatigue"),
        "Her mother has hypothyroidism.",
        (37.1, 80, 14, "122/76"),
        "The metacarpophalangeal and proximal interphalangeal joints of both hands are swollen and tender. The "
        "distal interphalangeal joints are spared.",
        "Anti-cyclic citrullinated peptide antibodies are present.",
        {
            "dx": _k(DX, "Rheumatoid arthritis", "Osteoarthritis", "Psoriatic arthritis",
                     "Systemic lupus erythematosus", "Polymyalgia rheumatica"),
            "pharm": _k(PHARM, "Methotrexate", "Colchicine", "Allopurinol", "Acetaminophen alone",
                        "Oral penicillamine"),
        },
    ),
    Condition(
        "sle", "Systemic lupus erythematosus", "rheumatology", (22, 32), "F", "office", "2 months",
        ("joint pain in her hands and knees", "a rash on her face that worsens after sun exposure"),
        "She has had two painless oral ulcers during this period.",
        (37.8, 88, 14, "136/84"),
        "There is an erythematous rash over the cheeks and the bridge of the nose that spares the nasolabial folds.",
        "Urinalysis shows 2+ protein and red blood cell casts.",
        {
            "dx": _k(DX, "Systemic lupus erythematosus", "Rosacea", "Dermatomyositis", "Drug-induced lupus",
                     "Rheumatoid arthritis"),
            "test": _k("Which of the following laboratory findings is most specific for this patient's condition?",
                       "Anti-Smith antibodies", "Antinuclear antibodies", "Antihistone antibodies",
                       "Anticentromere antibodies", "Rheumatoid factor"),
        },
    ),
    Condition(
        "asthma", "Acute asthma exacerbation", "pediatrics", (8, 12), "M", "ed", "4 hours",
        ("shortness of breath", "wheezing", "a dry cough"),
        "He had a viral upper respiratory tract infection last week. He has atopic dermatitis and seasonal "
        "allergies.",
        (37.2, 124, 32, "104/66"),
        "He speaks in short phrases. There are diffuse expiratory wheezes and use of the accessory muscles of "
        "respiration. Oxygen saturation is 91% on room air.",
        "",
        {
            "dx": _k(DX, "Acute asthma exacerbation", "Foreign body aspiration", "Bronchiolitis",
                     "Cystic fibrosis", "Croup"),
            "pharm": _k(PHARM, "Nebulized albuterol", "Oral montelukast", "Inhaled salmeterol",
                        "Oral amoxicillin", "Inhaled cromolyn"),
        },
    ),
    Condition(
        "croup", "Croup", "pediatrics", (2, 3), "M", "ed", "2 days",
        ("a barking cough", "a hoarse voice", "noisy breathing"),
        "He had a runny nose 3 days ago.",
        (38.1, 130, 34, ""),
        "Inspiratory stridor is heard at rest. There is mild suprasternal retraction.",
        "An x-ray of the neck shows narrowing of the subglottic trachea.",
        {
            "dx": _k(DX, "Laryngotracheobronchitis", "Epiglottitis", "Foreign body aspiration",
                     "Bacterial tracheitis", "Retropharyngeal abscess"),
            "pharm": _k(PHARM, "Dexamethasone and nebulized epinephrine", "Intravenous ceftriaxone",
                        "Oral amoxicillin", "Inhaled salmeterol", "Oral azithromycin"),
            "organism": _k(ORGANISM, "Parainfluenza virus", "Haemophilus influenzae type b",
                           "Respiratory syncytial virus", "Streptococcus pyogenes", "Bordetella pertussis"),
        },
    ),
    Condition(
        "kawasaki", "Kawasaki disease", "pediatrics", (2, 4), "M", "ed", "6 days",
        ("fever",),
        "His parents report that his lips have become red and cracked and that his hands and feet are swollen.",
        (39.5, 140, 28, ""),
        "There is bilateral nonexudative conjunctival injection, a strawberry tongue, a diffuse erythematous rash "
        "on the trunk, and a 2-cm tender cervical lymph node.",
        "",
        {
            "dx": _k(DX, "Kawasaki disease", "Scarlet fever", "Measles", "Staphylococcal scalded skin syndrome",
                     "Systemic juvenile idiopathic arthritis"),
            "pharm": _k(PHARM, "Intravenous immune globulin and aspirin", "Oral penicillin V",
                        "Oral prednisone alone", "Intravenous vancomycin", "Oral acetaminophen alone"),
            "cause": _k("This patient is at greatest risk for which of the following complications?",
                        "Coronary artery aneurysm", "Mitral stenosis", "Glomerulonephritis", "Aortic dissection",
                        "Encephalitis"),
        },
    ),
    Condition(
        "pyloric_stenosis", "Hypertrophic pyloric stenosis", "pediatrics", (0, 0), "M", "ed", "4 days",
        ("forceful, nonbilious vomiting after every feed",),
        "He seems hungry immediately after vomiting. He is the first-born child of his parents.",
        None,
        "He appears dehydrated. There is a firm, mobile, olive-shaped mass in the epigastrium.",
        "Serum studies show a hypochloremic, hypokalemic metabolic alkalosis.",
        {
            "dx": _k(DX, "Hypertrophic pyloric stenosis", "Duodenal atresia", "Gastroesophageal reflux disease",
                     "Malrotation with volvulus", "Intussusception"),
            "test": _k("Which of the following is the most appropriate test to confirm the diagnosis?",
                       "Abdominal ultrasonography", "Upper gastrointestinal series", "CT scan of the abdomen",
                       "Esophagogastroduodenoscopy", "Sweat chloride test"),
        },
        age_text="5-week-old",
    ),
    Condition(
        "intussusception", "Intussusception", "pediatrics", (1, 1), "M", "ed", "12 hours",
        ("intermittent episodes of crying during which he draws his legs up to his abdomen", "vomiting"),
        "Between episodes he is lethargic. This morning he passed a stool mixed with blood and mucus.",
        (37.4, 132, 30, ""),
        "A sausage-shaped mass is palpated in the right upper quadrant.",
        "",
        {
            "dx": _k(DX, "Intussusception", "Meckel diverticulum", "Hirschsprung disease", "Midgut volvulus",
                     "Viral gastroenteritis"),
            "next": _k(NEXT, "Air-contrast enema", "Emergency laparotomy", "Oral rehydration and observation",
                       "Colonoscopy", "Upper gastrointestinal endoscopy"),
        },
        age_text="14-month-old",
    ),
    Condition(
        "depression", "Major depressive disorder", "psychiatry", (30, 45), "F", "office", "2 months",
        ("depressed mood", "early morning awakening", "loss of interest in painting, which she used to enjoy"),
        "She has lost 4 kg (8.8 lb) without trying and feels guilty about being a burden to her family. She has "
        "never had a period of elevated mood.",
        None,
        "She has a flat affect and makes little eye contact. She denies suicidal ideation.",
        "Serum thyroid-stimulating hormone concentration is within the reference range.",
        {
            "dx": _k(DX, "Major depressive disorder", "Persistent depressive disorder", "Adjustment disorder",
                     "Bipolar II disorder", "Generalized anxiety disorder"),
            "pharm": _k(PHARM, "Sertraline", "Lithium carbonate", "Haloperidol", "Alprazolam", "Methylphenidate"),
        },
    ),
    Condition(
        "alcohol_withdrawal", "Alcohol withdrawal delirium", "psychiatry", (45, 55), "M", "hospital", "",
        ("tremor", "anxiety", "seeing insects crawling on the walls"),
        "He was admitted 48 hours ago for open reduction of a femoral fracture. His wife reports that he drinks "
        "a pint of vodka daily.",
        (38.0, 120, 20, "168/100"),
        "He is diaphoretic and disoriented to time and place. There is a coarse tremor of both hands.",
        "",
        {
            "dx": _k(DX, "Alcohol withdrawal delirium", "Wernicke encephalopathy", "Hepatic encephalopathy",
                     "Opioid withdrawal", "Fat embolism syndrome"),
            "pharm": _k(PHARM, "Intravenous lorazepam", "Intravenous haloperidol alone", "Oral naltrexone",
                        "Disulfiram", "Flumazenil"),
        },
        presentation="develops agitation in the hospital",
    ),
    Condition(
        "opioid_overdose", "Opioid intoxication", "toxicology", (20, 30), "M", "ed", "",
        (),
        "Paramedics found a syringe beside him.",
        (36.2, 54, 6, "100/60"),
        "He does not respond to verbal stimuli. His pupils are pinpoint, and there are needle marks on both "
        "forearms.",
        "Fingerstick glucose concentration is 96 mg/dL.",
        {
            "dx": _k(DX, "Opioid intoxication", "Benzodiazepine intoxication", "Hypoglycemia",
                     "Cocaine intoxication", "Organophosphate poisoning"),
            "pharm": _k(PHARM, "Intravenous naloxone", "Intravenous flumazenil", "Activated charcoal",
                        "Physostigmine", "Intravenous glucagon"),
        },
        presentation="is brought to the emergency department 20 minutes after being found unresponsive in a "
        "public restroom",
    ),
    Condition(
        "pneumothorax", "Primary spontaneous pneumothorax", "pulmonology", (18, 25), "M", "ed", "1 hour",
        ("sudden left-sided chest pain", "shortness of breath"),
        "He is 193 cm (6 ft 4 in) tall and weighs 68 kg (150 lb). He smokes cigarettes.",
        (37.0, 104, 24, "124/78"),
        "Breath sounds are decreased over the left hemithorax, which is hyperresonant to percussion.",
        "A chest x-ray shows a visceral pleural line with no lung markings peripheral to it.",
        {
            "dx": _k(DX, "Primary spontaneous pneumothorax", "Pulmonary embolism", "Pleural effusion",
                     "Acute pericarditis", "Community-acquired pneumonia"),
            "cause": _k(CAUSE, "Rupture of apical subpleural blebs",
                        "Obstruction of a pulmonary artery by a thrombus",
                        "Accumulation of fluid in the pleural space",
                        "Alveolar collapse from surfactant deficiency", "Inflammation of the visceral pericardium"),
        },
    ),
    Condition(
        "addison", "Primary adrenal insufficiency", "endocrinology", (35, 45), "F", "office", "3 months",
        ("fatigue", "lightheadedness when she stands up", "a craving for salty food"),
        "She has lost 5 kg (11 lb). She has type 1 diabetes mellitus.",
        (36.8, 102, 14, "92/58"),
        "There is hyperpigmentation of the palmar creases and the buccal mucosa.",
        "Serum sodium concentration is 128 mEq/L and potassium concentration is 5.8 mEq/L.",
        {
            "dx": _k(DX, "Primary adrenal insufficiency", "Secondary adrenal insufficiency", "Hemochromatosis",
                     "Hypothyroidism", "Syndrome of inappropriate antidiuretic hormone secretion"),
            "test": _k(TEST, "Cosyntropin stimulation test", "Dexamethasone suppression test",
                       "24-hour urine free cortisol measurement", "MRI of the pituitary gland",
                       "Plasma metanephrine measurement"),
            "pharm": _k("Which of the following is the most appropriate long-term pharmacotherapy?",
                        "Hydrocortisone and fludrocortisone", "Spironolactone", "Levothyroxine alone",
                        "Desmopressin", "Ketoconazole"),
        },
    ),
    Condition(
        "hyperkalemia", "Hyperkalemia", "nephrology", (60, 70), "M", "ed", "2 days",
        ("generalized muscle weakness",),
        "He has chronic kidney disease and began taking lisinopril and spironolactone 2 weeks ago.",
        (36.7, 58, 16, "134/82"),
        "Muscle strength is 4/5 in all extremities.",
        "Serum potassium concentration is 7.2 mEq/L. An ECG shows peaked T waves and widened QRS complexes.",
        {
            "next": _k("Which of the following is the most appropriate immediate step in management?",
                       "Intravenous calcium gluconate", "Oral sodium polystyrene sulfonate alone",
                       "Intravenous 0.9% saline", "Oral furosemide", "Intravenous magnesium sulfate"),
        },
    ),
    Condition(
        "myasthenia", "Myasthenia gravis", "neurology", (25, 35), "F", "office", "2 months",
        ("double vision that worsens toward the end of the day", "difficulty chewing tough meat"),
        "Her symptoms improve after rest.",
        (36.9, 76, 14, "118/74"),
        "There is bilateral ptosis that worsens after sustained upward gaze for 60 seconds. The pupils are equal "
        "and reactive to light. Sensation is intact.",
        "",
        {
            "dx": _k(DX, "Myasthenia gravis", "Lambert-Eaton myasthenic syndrome", "Multiple sclerosis",
                     "Botulism", "Amyotrophic lateral sclerosis"),
            "cause": _k(CAUSE, "Antibodies against postsynaptic acetylcholine receptors",
                        "Antibodies against presynaptic voltage-gated calcium channels",
                        "Demyelination of the central nervous system",
                        "Inhibition of acetylcholine release by a bacterial toxin",
                        "Degeneration of upper and lower motor neurons"),
            "pharm": _k(PHARM, "Pyridostigmine", "Atropine", "Dantrolene", "Riluzole", "Botulinum antitoxin"),
        },
    ),
    Condition(
        "parkinson", "Parkinson disease", "neurology", (62, 72), "M", "office", "1 year",
        ("a tremor of his right hand", "slowness when getting dressed"),
        "His wife says his handwriting has become smaller.",
        (36.8, 72, 14, "132/80"),
        "There is a resting tremor of the right hand that decreases with voluntary movement, cogwheel rigidity at "
        "the right wrist, and a shuffling gait with decreased arm swing.",
        "",
        {
            "dx": _k(DX, "Parkinson disease", "Essential tremor", "Normal pressure hydrocephalus",
                     "Huntington disease", "Progressive supranuclear palsy"),
            "cause": _k("Which of the following is the most likely underlying pathologic finding?",
                        "Loss of dopaminergic neurons in the substantia nigra pars compacta",
                        "Atrophy of the caudate nucleus", "Degeneration of cerebellar Purkinje cells",
                        "Loss of cholinergic neurons in the nucleus basalis of Meynert",
                        "Demyelination of the corticospinal tracts"),
            "pharm": _k(PHARM, "Carbidopa-levodopa", "Haloperidol", "Propranolol", "Donepezil", "Tetrabenazine"),
        },
    ),
    Condition(
        "heart_failure", "Acute decompensated heart failure", "cardiology", (65, 75), "M", "ed", "1 week",
        ("worsening shortness of breath", "the need to sleep on three pillows"),
        "He had a myocardial infarction 3 years ago.",
        (36.9, 108, 26, "152/94"),
        "Jugular venous pressure is elevated. Crackles are heard at both lung bases, and there is 2+ pitting edema "
        "of the ankles. An S3 gallop is heard.",
        "A chest x-ray shows cardiomegaly with bilateral perihilar opacities.",
        {
            "dx": _k(DX, "Acute decompensated heart failure", "Community-acquired pneumonia",
                     "Exacerbation of chronic obstructive pulmonary disease", "Constrictive pericarditis",
                     "Nephrotic syndrome"),
            "pharm": _k(PHARM, "Intravenous furosemide", "Intravenous metoprolol", "Oral verapamil",
                        "Intravenous 0.9% saline bolus", "Oral digoxin alone"),
        },
    ),
    Condition(
        "mononucleosis", "Infectious mononucleosis", "infectious disease", (16, 20), "M", "office", "1 week",
        ("a sore throat", "fever", "fatigue"),
        "He plays on his school's football team.",
        (38.3, 96, 16, "118/72"),
        "There is tonsillar enlargement with exudates, posterior cervical lymphadenopathy, and a palpable spleen "
        "tip.",
        "A peripheral blood smear shows atypical lymphocytes. A heterophile antibody test is positive.",
        {
            "dx": _k(DX, "Infectious mononucleosis", "Streptococcal pharyngitis", "Acute HIV infection",
                     "Cytomegalovirus infection", "Acute lymphoblastic leukemia"),
            "organism": _k(ORGANISM, "Epstein-Barr virus", "Cytomegalovirus", "Streptococcus pyogenes",
                           "Adenovirus", "Human herpesvirus 6"),
            "next": _k("Which of the following is the most appropriate recommendation for this patient?",
                       "Avoid contact sports until the spleen is no longer enlarged", "Oral amoxicillin for 10 days",
                       "Oral acyclovir", "Splenectomy", "Tonsillectomy"),
        },
    ),
    Condition(
        "lyme", "Lyme disease", "infectious disease", (30, 45), "M", "office", "5 days",
        ("fever", "muscle aches", "a rash on his thigh"),
        "He went camping in the woods of Connecticut 2 weeks ago.",
        (37.9, 90, 14, "124/80"),
        "There is a 9-cm erythematous patch with central clearing on the left thigh.",
        "",
        {
            "dx": _k(DX, "Lyme disease", "Rocky Mountain spotted fever", "Cellulitis", "Tinea corporis",
                     "Contact dermatitis"),
            "pharm": _k(PHARM, "Oral doxycycline", "Topical clotrimazole", "Oral prednisone",
                        "Intravenous vancomycin", "Oral fluconazole"),
            "organism": _k(ORGANISM, "Borrelia burgdorferi", "Rickettsia rickettsii", "Ehrlichia chaffeensis",
                           "Babesia microti", "Treponema pallidum"),
        },
    ),
    Condition(
        "c_difficile", "Clostridioides difficile colitis", "infectious disease", (70, 80), "F", "hospital", "3 days",
        ("watery diarrhea", "crampy lower abdominal pain"),
        "She was treated with clindamycin for cellulitis 1 week ago.",
        (38.3, 102, 18, "112/70"),
        "The abdomen is diffusely tender without guarding.",
        "Leukocyte count is 18,000/mm3.",
        {
            "organism": _k(ORGANISM, "Clostridioides difficile", "Escherichia coli O157:H7",
                           "Salmonella enteritidis", "Giardia lamblia", "Norovirus"),
            "pharm": _k(PHARM, "Oral vancomycin", "Intravenous vancomycin", "Loperamide", "Oral ciprofloxacin",
                        "Oral clindamycin"),
        },
    ),
    Condition(
        "testicular_torsion", "Testicular torsion", "urology", (14, 17), "M", "ed", "2 hours",
        ("sudden, severe pain in the left testis", "vomiting"),
        "He has no history of trauma.",
        (37.0, 110, 18, "128/78"),
        "The left testis is high-riding with a horizontal lie. The cremasteric reflex is absent on the left.",
        "",
        {
            "dx": _k(DX, "Testicular torsion", "Epididymitis", "Torsion of the appendix testis",
                     "Incarcerated inguinal hernia", "Varicocele"),
            "next": _k(NEXT, "Immediate surgical exploration", "Intramuscular ceftriaxone and oral doxycycline",
                       "Scrotal elevation and analgesics", "Ultrasonography in 1 week", "Reassurance"),
        },
    ),
)
