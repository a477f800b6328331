"""MedMCQA-style one-line questions (Indian postgraduate entrance exam style), hand-written, plus items phrased from
the clinical facts. Each item: subject, topic, question, correct answer, three distractors, explanation, choice type.
"""

from __future__ import annotations

import random
import uuid

from .clinical import CONDITIONS

# (subject, topic, question, correct, wrong1, wrong2, wrong3, explanation, choice_type)
HAND: tuple[tuple[str, str | None, str, str, str, str, str, str, str], ...] = (
    ("Anatomy", "Upper limb", "Nerve injured in fracture of the surgical neck of the humerus is:", "Axillary nerve",
     "Radial nerve", "Ulnar nerve", "Musculocutaneous nerve",
     "The axillary nerve winds around the surgical neck with the posterior circumflex humeral artery, so it is at risk "
     "in fractures and dislocations at this level; deltoid weakness and loss of sensation over the regimental badge "
     "area follow.", "single"),
    ("Anatomy", "Upper limb", "Claw hand is seen in injury to:", "Ulnar nerve", "Axillary nerve",
     "Musculocutaneous nerve", "Long thoracic nerve",
     "Loss of the medial lumbricals and interossei leaves the long flexors and extensors unopposed, so the ring and "
     "little fingers are hyperextended at the metacarpophalangeal joints and flexed at the interphalangeal joints.",
     "single"),
    ("Anatomy", "Head and neck", "All of the following muscles are supplied by the facial nerve EXCEPT:",
     "Masseter", "Buccinator", "Stapedius", "Posterior belly of digastric",
     "Masseter is a muscle of mastication and is supplied by the mandibular division of the trigeminal nerve; the "
     "others develop from the second pharyngeal arch and are supplied by the facial nerve.", "multi"),
    ("Anatomy", "Thorax", "The sinoatrial node is usually supplied by a branch of the:", "Right coronary artery",
     "Left anterior descending artery", "Left circumflex artery", "Posterior interventricular artery",
     "In about 60% of people the nodal artery arises from the right coronary artery; in the rest it comes from the "
     "circumflex branch.", "single"),
    ("Anatomy", "Lower limb", "Foot drop results from injury to the:", "Common peroneal nerve", "Tibial nerve",
     "Femoral nerve", "Obturator nerve",
     "The common peroneal (fibular) nerve winds around the neck of the fibula, where it is easily injured; the "
     "dorsiflexors and evertors are paralysed.", "single"),
    ("Anatomy", "Abdomen", "Which of the following structures is retroperitoneal?", "Second part of duodenum",
     "Transverse colon", "Stomach", "Jejunum",
     "The duodenum except its first 2.5 cm lies behind the peritoneum; the stomach, jejunum and transverse colon "
     "have a mesentery.", "single"),
    ("Physiology", "Cardiovascular system", "The normal pacemaker of the heart is the:", "Sinoatrial node",
     "Atrioventricular node", "Bundle of His", "Purkinje fibres",
     "The SA node has the fastest rate of spontaneous diastolic depolarisation (about 70 to 80 per minute) and so "
     "sets the heart rate.", "single"),
    ("Physiology", "Renal", "Maximum reabsorption of glucose occurs in the:", "Proximal convoluted tubule",
     "Loop of Henle", "Distal convoluted tubule", "Collecting duct",
     "Filtered glucose is almost completely reabsorbed in the early proximal tubule by SGLT2/SGLT1 "
     "co-transporters.", "single"),
    ("Physiology", "Respiratory system", "Surfactant is secreted by:", "Type II pneumocytes", "Type I pneumocytes",
     "Alveolar macrophages", "Clara cells",
     "Type II alveolar cells store surfactant in lamellar bodies; it lowers surface tension and prevents alveolar "
     "collapse at end expiration.", "single"),
    ("Physiology", "Endocrine", "Oxytocin is synthesised mainly in the:", "Paraventricular nucleus",
     "Supraoptic nucleus", "Anterior pituitary", "Arcuate nucleus",
     "Both hypothalamic nuclei make both hormones, but oxytocin comes mainly from the paraventricular nucleus and "
     "vasopressin mainly from the supraoptic nucleus; they are released from the posterior pituitary.", "single"),
    ("Physiology", "Nerve muscle", "The resting membrane potential of a nerve is closest to the equilibrium "
     "potential of:", "Potassium", "Sodium", "Chloride", "Calcium",
     "At rest the membrane is far more permeable to potassium than to sodium, so the resting potential (about "
     "-70 mV) lies near the potassium equilibrium potential.", "single"),
    ("Biochemistry", "Vitamins", "Wernicke encephalopathy is due to deficiency of:", "Thiamine", "Riboflavin",
     "Niacin", "Pyridoxine",
     "Thiamine pyrophosphate is a coenzyme of pyruvate dehydrogenase and transketolase; deficiency in people who "
     "drink heavily causes ophthalmoplegia, ataxia and confusion.", "single"),
    ("Biochemistry", "Enzymes", "Rate limiting enzyme of cholesterol synthesis is:", "HMG-CoA reductase",
     "HMG-CoA synthase", "Mevalonate kinase", "Squalene synthase",
     "HMG-CoA reductase converts HMG-CoA to mevalonate and is the target of statins.", "single"),
    ("Biochemistry", "Metabolism", "Enzyme deficient in classic phenylketonuria is:", "Phenylalanine hydroxylase",
     "Tyrosinase", "Homogentisate oxidase", "Fumarylacetoacetate hydrolase",
     "Phenylalanine cannot be converted to tyrosine, so it accumulates; tyrosine becomes an essential amino acid.",
     "single"),
    ("Biochemistry", "Vitamins", "Scurvy is caused by deficiency of vitamin:", "C", "A", "D", "K",
     "Ascorbic acid is needed for hydroxylation of proline and lysine in collagen; deficiency gives bleeding gums, "
     "perifollicular haemorrhages and poor wound healing.", "single"),
    ("Pathology", "Haematology", "Reed-Sternberg cells are characteristic of:", "Hodgkin lymphoma",
     "Burkitt lymphoma", "Multiple myeloma", "Chronic lymphocytic leukaemia",
     "The large binucleate 'owl eye' cells are CD15 and CD30 positive and define classical Hodgkin lymphoma.",
     "single"),
    ("Pathology", "Cell injury", "Caseous necrosis is typically seen in:", "Tuberculosis", "Myocardial infarction",
     "Acute pancreatitis", "Gangrene of the foot",
     "Caseation is a cheese-like necrosis surrounded by a granulomatous reaction, classically in tuberculosis.",
     "single"),
    ("Pathology", "Inflammation", "All of the following are chemical mediators of acute inflammation EXCEPT:",
     "Albumin", "Histamine", "Bradykinin", "Prostaglandin E2",
     "Histamine, kinins and prostaglandins increase vascular permeability or cause vasodilation; albumin is a "
     "plasma protein without that role.", "multi"),
    ("Pathology", "Neoplasia", "Psammoma bodies are seen in:", "Papillary carcinoma of thyroid",
     "Follicular carcinoma of thyroid", "Medullary carcinoma of thyroid", "Anaplastic carcinoma of thyroid",
     "Concentric laminated calcifications are found in papillary thyroid cancer, serous ovarian tumours and "
     "meningiomas.", "single"),
    ("Pharmacology", "Autonomic nervous system", "Drug of choice for anaphylactic shock is:", "Adrenaline",
     "Atropine", "Hydrocortisone", "Chlorpheniramine",
     "Intramuscular adrenaline (0.01 mg/kg, at most 0.5 mg) reverses bronchospasm, vasodilation and airway oedema "
     "within minutes; steroids and "
     "antihistamines are adjuncts only.", "single"),
    ("Pharmacology", "Antimicrobials", "Red-orange discoloration of urine is caused by:", "Rifampicin", "Isoniazid",
     "Ethambutol", "Pyrazinamide",
     "Rifampicin and its metabolites colour urine, sweat and tears orange-red; patients should be warned.",
     "single"),
    ("Pharmacology", "Cardiovascular", "Dry cough is a common adverse effect of:", "Enalapril", "Losartan",
     "Amlodipine", "Atenolol",
     "ACE inhibitors block the breakdown of bradykinin, which accumulates in the airway; angiotensin receptor "
     "blockers rarely cause cough.", "single"),
    ("Pharmacology", "Antidotes", "Antidote for paracetamol poisoning is:", "N-acetylcysteine", "Naloxone",
     "Flumazenil", "Desferrioxamine",
     "N-acetylcysteine replenishes glutathione and detoxifies NAPQI, the toxic metabolite of paracetamol.",
     "single"),
    ("Pharmacology", "Antidotes", "Antidote for heparin overdose is:", "Protamine sulphate", "Vitamin K",
     "Fresh frozen plasma", "Tranexamic acid",
     "Protamine is a basic protein that binds the acidic heparin molecule and neutralises it (1 mg per 100 units "
     "of heparin, given IV/slowly).", "single"),
    ("Microbiology", "Bacteriology", "Chinese letter arrangement is seen in:", "Corynebacterium diphtheriae",
     "Staphylococcus aureus", "Streptococcus pyogenes", "Clostridium tetani",
     "Diphtheria bacilli lie at angles to each other after snapping division, like the strokes of Chinese "
     "characters.", "single"),
    ("Microbiology", "Virology", "Negri bodies are found in infection with:", "Rabies virus", "Herpes simplex virus",
     "Cytomegalovirus", "Poliovirus",
     "Negri bodies are eosinophilic cytoplasmic inclusions in neurons, especially Purkinje cells and hippocampal "
     "pyramidal cells.", "single"),
    ("Microbiology", "Mycology", "India ink preparation is used to demonstrate:", "Cryptococcus neoformans",
     "Candida albicans", "Aspergillus fumigatus", "Histoplasma capsulatum",
     "The thick polysaccharide capsule excludes the ink and appears as a clear halo around the yeast.", "single"),
    ("Microbiology", "Parasitology", "Definitive host of Toxoplasma gondii is:", "Cat", "Dog", "Man", "Pig",
     "The sexual cycle of Toxoplasma takes place only in the intestine of cats and other felines.", "single"),
    ("Medicine", "Endocrinology", "Most common cause of hypothyroidism in iodine-sufficient areas is:",
     "Hashimoto thyroiditis", "Iodine deficiency", "Subacute thyroiditis", "Pituitary adenoma",
     "Where iodine intake is adequate, autoimmune thyroiditis accounts for most cases of primary hypothyroidism.",
     "single"),
    ("Medicine", "Gastroenterology", "Kayser-Fleischer ring is seen in:", "Wilson disease", "Haemochromatosis",
     "Primary biliary cholangitis", "Alpha-1 antitrypsin deficiency",
     "Copper deposits in Descemet's membrane produce a golden-brown ring at the corneal margin.", "single"),
    ("Medicine", "Nephrology", "All are features of nephrotic syndrome EXCEPT:", "Haematuria with RBC casts",
     "Proteinuria above 3.5 g per day", "Hypoalbuminaemia", "Hyperlipidaemia",
     "Red cell casts point to a nephritic process; nephrotic syndrome is defined by heavy proteinuria, low "
     "albumin, oedema and hyperlipidaemia.", "multi"),
    ("Medicine", "Cardiology", "Most common valve involved in rheumatic heart disease is:", "Mitral valve",
     "Aortic valve", "Tricuspid valve", "Pulmonary valve",
     "The mitral valve is affected in almost all cases of chronic rheumatic heart disease, alone or with the "
     "aortic valve.", "single"),
    ("Surgery", "Trauma", "In the Glasgow coma scale, the best motor response carries a maximum score of:", "6",
     "4", "5", "3",
     "Eye opening scores 1 to 4, verbal response 1 to 5 and motor response 1 to 6, for a total of 3 to 15.",
     "single"),
    ("Surgery", "Burns", "Rule of nines assigns what percentage of body surface area to one entire upper limb "
     "in an adult?", "9%", "18%", "4.5%", "1%",
     "Each upper limb is 9%, each lower limb 18% (front/back 9% each), the front and back of the trunk 18% each, head 9% and perineum "
     "1%.", "single"),
    ("Surgery", "Hernia", "Hernia that passes through the deep inguinal ring lateral to the inferior epigastric "
     "vessels is:", "Indirect inguinal hernia", "Direct inguinal hernia", "Femoral hernia", "Obturator hernia",
     "An indirect hernia follows the processus vaginalis through the deep ring, lateral to the inferior epigastric "
     "artery.", "single"),
    ("Pediatrics", "Growth and development", "A child can ride a tricycle at the age of:", "3 years", "18 months",
     "2 years", "5 years",
     "Pedalling a tricycle is a gross motor milestone of about 3 years.", "single"),
    ("Pediatrics", "Neonatology", "Physiological jaundice in a term neonate usually appears on:", "Day 2 to 3",
     "First 24 hours", "Day 7", "Day 14",
     "Jaundice in the first 24 hours is always pathological; physiological jaundice appears after 24 hours, peaks "
     "at day 3 to 4 and clears by 2 weeks.", "single"),
    ("Gynaecology & Obstetrics", "Pregnancy", "Hegar sign is elicited at about:", "6 to 8 weeks", "2 to 4 weeks",
     "16 weeks", "24 weeks",
     "Softening of the isthmus allows the fingers in the fornix and on the abdomen to meet; it is seen at 6 to 10 "
     "weeks.", "single"),
    ("Gynaecology & Obstetrics", "Labour", "Drug of choice for postpartum haemorrhage due to uterine atony is:",
     "Oxytocin", "Nifedipine", "Magnesium sulphate", "Terbutaline",
     "Oxytocin (10 IU IM/IV) contracts the uterine muscle and is the first uterotonic; the others relax the uterus.", "single"),
    ("Ophthalmology", "Cornea", "Dendritic ulcer of the cornea is caused by:", "Herpes simplex virus",
     "Pseudomonas aeruginosa", "Acanthamoeba", "Fusarium",
     "Branching epithelial ulcers with terminal bulbs that stain with fluorescein are typical of herpes simplex "
     "keratitis.", "single"),
    ("Ophthalmology", "Retina", "Cherry red spot at the macula is seen in:", "Central retinal artery occlusion",
     "Central retinal vein occlusion", "Retinal detachment", "Diabetic retinopathy",
     "The ischaemic retina turns opaque white while the thin fovea shows the intact choroidal circulation as a red "
     "spot.", "single"),
    ("ENT", "Nose", "Little's area is located in the:", "Anterior part of the nasal septum", "Lateral nasal wall",
     "Floor of the nose", "Posterior part of the nasal septum",
     "Kiesselbach's plexus in the anteroinferior septum is the commonest site of epistaxis in the young.",
     "single"),
    ("ENT", "Larynx", "The only abductor of the vocal cords is:", "Posterior cricoarytenoid",
     "Lateral cricoarytenoid", "Cricothyroid", "Thyroarytenoid",
     "The posterior cricoarytenoid rotates the arytenoids outward and opens the glottis; bilateral palsy causes "
     "stridor.", "single"),
    ("Forensic Medicine", "Thanatology", "Earliest sign of death is:", "Cessation of circulation and respiration",
     "Rigor mortis", "Postmortem lividity", "Putrefaction",
     "Somatic death is recognised first by the permanent stopping of heart and breathing; the other changes "
     "follow over hours.", "single"),
    ("Forensic Medicine", "Toxicology", "Cherry red colour of postmortem lividity is seen in poisoning by:",
     "Carbon monoxide", "Hydrogen sulphide", "Phosphorus", "Nitrites",
     "Carboxyhaemoglobin is bright red and colours the skin and lividity cherry red.", "single"),
    ("Social & Preventive Medicine", "Epidemiology", "Incubation period is best defined as the time between:",
     "Entry of the infection and the first sign or symptom", "Infection and infectiousness",
     "Onset of symptoms and diagnosis", "Exposure and recovery",
     "The incubation period runs from invasion by the agent to the appearance of the first sign or symptom.",
     "single"),
    ("Social & Preventive Medicine", "Biostatistics", "Ability of a test to correctly identify those without the "
     "disease is:", "Specificity", "Sensitivity", "Positive predictive value", "Accuracy",
     "Specificity = true negatives/(true negatives + false positives), i.e. the proportion of people without the "
     "disease who test negative.", "single"),
    ("Social & Preventive Medicine", "Vaccines", "Vaccine most sensitive to heat is:", "Oral polio vaccine",
     "Tetanus toxoid", "Hepatitis B vaccine", "Typhoid Vi polysaccharide vaccine",
     "Oral polio vaccine loses potency fastest when warm and is stored frozen at state and district levels of the "
     "cold chain.", "single"),
    ("Dental", "Oral pathology", "Most common site of oral squamous cell carcinoma in the Indian subcontinent is:",
     "Buccal mucosa", "Hard palate", "Floor of the mouth", "Dorsum of the tongue",
     "Chewing tobacco held in the gingivobuccal sulcus makes the buccal mucosa the commonest site in South Asia.",
     "single"),
    ("Dental", "Dental anatomy", "The first permanent tooth to erupt is usually the:", "Mandibular first molar",
     "Maxillary central incisor", "Mandibular canine", "Maxillary first premolar",
     "The mandibular first molar erupts at about 6 years of age, behind the primary teeth.", "single"),
    ("Dental", "Dental materials", "Setting reaction of zinc oxide eugenol cement is an example of:",
     "Chelation", "Polymerisation", "Crystallisation by hydration", "Acid etching",
     "Zinc oxide reacts with eugenol in the presence of water to form a zinc eugenolate chelate.", "single"),
    ("Dental", "Periodontics", "Most common organism associated with chronic periodontitis is:",
     "Porphyromonas gingivalis", "Streptococcus mutans", "Lactobacillus acidophilus", "Candida albicans",
     "Porphyromonas gingivalis is a gram-negative anaerobe of the red complex linked to destructive "
     "periodontitis; Streptococcus mutans is linked to caries.", "single"),
    ("Psychiatry", "Substance use", "Drug used for aversion therapy in alcohol dependence is:", "Disulfiram",
     "Naltrexone", "Acamprosate", "Baclofen",
     "Disulfiram inhibits aldehyde dehydrogenase; acetaldehyde builds up after drinking and causes flushing, "
     "nausea and palpitations.", "single"),
    ("Radiology", "Chest", "Egg on a string appearance on chest x-ray is seen in:",
     "Transposition of the great arteries", "Tetralogy of Fallot", "Total anomalous pulmonary venous return",
     "Ebstein anomaly",
     "A narrow superior mediastinum with an egg-shaped heart is the classic film in transposition.", "single"),
    ("Skin", "Infections", "Drug of choice for scabies is:", "Permethrin 5% cream", "Topical clotrimazole",
     "Oral griseofulvin", "Topical mupirocin",
     "Permethrin applied from the neck down and washed off after 8 to 14 hours kills the mite; contacts are "
     "treated at the same time.", "single"),
    ("Anaesthesia", "Muscle relaxants", "Depolarising neuromuscular blocker among the following is:",
     "Succinylcholine", "Vecuronium", "Atracurium", "Rocuronium",
     "Succinylcholine acts like acetylcholine at the end plate and produces fasciculations followed by flaccid "
     "paralysis.", "single"),
    ("Orthopaedics", "Fractures", "Colles fracture is a fracture of the:", "Distal radius with dorsal displacement",
     "Distal radius with volar displacement", "Scaphoid waist", "Olecranon",
     "A fall on the outstretched hand in older adults breaks the distal radius with dorsal tilt, giving the dinner "
     "fork deformity.", "single"),
    ("Orthopaedics", "Infections", "Most common organism causing acute osteomyelitis is:", "Staphylococcus aureus",
     "Salmonella typhi", "Escherichia coli", "Mycobacterium tuberculosis",
     "Staphylococcus aureus is the leading cause at all ages; salmonella is notable in sickle cell disease.",
     "single"),
)

# (condition key, kind, MedMCQA-style stem, subject, topic, explanation)
DERIVED: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("inferior_mi", "cause", "Inferior wall myocardial infarction is most commonly due to occlusion of the:",
     "Medicine", "Cardiology", "The right coronary artery supplies the inferior wall in most people."),
    ("pericarditis", "pharm", "First-line treatment of acute viral pericarditis is:", "Medicine", "Cardiology",
     "An NSAID combined with colchicine relieves pain and halves the rate of recurrence."),
    ("dka", "next", "Initial step in the management of diabetic ketoacidosis is:", "Medicine", "Endocrinology",
     "Volume deficit is the first priority; insulin follows once serum potassium is at least 3.3 mEq/L."),
    ("pulmonary_embolism", "test", "Investigation of choice for suspected pulmonary embolism in a stable patient is:",
     "Radiology", "Chest", "CT pulmonary angiography shows filling defects in the pulmonary arteries directly."),
    ("appendicitis", "cause", "Most common initiating event in acute appendicitis is:", "Surgery", "Appendix",
     "Luminal obstruction, usually by a faecolith or lymphoid hyperplasia, raises pressure and leads to ischaemia "
     "and bacterial invasion."),
    ("cholecystitis", "test", "Initial investigation of choice for suspected acute cholecystitis is:", "Surgery",
     "Gall bladder", "Ultrasound shows stones, a thickened wall, pericholecystic fluid and a sonographic Murphy sign."),
    ("hashimoto", "cause", "Antibodies most characteristic of Hashimoto thyroiditis are:", "Pathology",
     "Endocrine", "Anti-TPO antibodies are present in over 90% of patients."),
    ("graves", "cause", "Graves disease is caused by:", "Medicine", "Endocrinology",
     "TSH receptor stimulating antibodies drive hormone synthesis and gland growth."),
    ("b12_deficiency", "cause", "Pernicious anaemia results from:", "Pathology", "Haematology",
     "Autoimmune gastritis destroys parietal cells, and antibodies block intrinsic factor."),
    ("nephrolithiasis", "cause", "Most common type of urinary calculus is:", "Surgery", "Urology",
     "Calcium oxalate stones make up about three quarters of all urinary stones."),
    ("pyelonephritis", "organism", "Most common organism causing acute pyelonephritis is:", "Microbiology",
     "Bacteriology", "Uropathogenic E. coli with P fimbriae ascends from the bladder."),
    ("preeclampsia", "pharm", "Drug of choice for prevention of eclamptic seizures is:", "Gynaecology & Obstetrics",
     "Hypertensive disorders", "Magnesium sulphate is superior to phenytoin and diazepam in preventing fits."),
    ("subarachnoid", "cause", "Most common cause of non-traumatic subarachnoid haemorrhage is:", "Surgery",
     "Neurosurgery", "Rupture of a berry aneurysm of the circle of Willis accounts for about 80%."),
    ("giant_cell_arteritis", "cause", "Most feared complication of untreated giant cell arteritis is:",
     "Medicine", "Rheumatology", "Arteritic anterior ischaemic optic neuropathy causes sudden permanent blindness."),
    ("gout", "cause", "Crystals deposited in gout are composed of:", "Pathology", "Musculoskeletal",
     "Monosodium urate crystals are needle shaped and negatively birefringent."),
    ("rheumatoid_arthritis", "pharm", "Anchor drug in the treatment of rheumatoid arthritis is:", "Pharmacology",
     "Immunomodulators", "Methotrexate is the first disease-modifying drug unless contraindicated."),
    ("sle", "test", "Most specific antibody for systemic lupus erythematosus is:", "Medicine", "Rheumatology",
     "Anti-Sm is highly specific; ANA is sensitive but not specific."),
    ("croup", "organism", "Most common cause of croup is:", "Pediatrics", "Respiratory system",
     "Parainfluenza viruses, especially type 1, cause most cases of laryngotracheobronchitis."),
    ("kawasaki", "cause", "Most important complication of Kawasaki disease is:", "Pediatrics", "Vasculitis",
     "Coronary aneurysms develop in a quarter of untreated children."),
    ("pyloric_stenosis", "test", "Investigation of choice for infantile hypertrophic pyloric stenosis is:",
     "Pediatrics", "Gastrointestinal tract", "Ultrasound measures pyloric muscle thickness and channel length."),
    ("intussusception", "next", "Treatment of choice for uncomplicated intussusception in an infant is:",
     "Pediatrics", "Gastrointestinal tract", "Pneumatic or hydrostatic reduction succeeds in most children."),
    ("opioid_overdose", "pharm", "Antidote for opioid poisoning is:", "Pharmacology", "Antidotes",
     "Naloxone is a competitive antagonist at mu receptors and reverses respiratory depression."),
    ("pneumothorax", "cause", "Primary spontaneous pneumothorax is usually due to:", "Surgery", "Thorax",
     "Tall thin young men who smoke develop apical blebs that rupture."),
    ("addison", "test", "Screening test of choice for primary adrenal insufficiency is:", "Medicine",
     "Endocrinology", "A low cortisol response to synthetic ACTH confirms adrenal insufficiency."),
    ("hyperkalemia", "next", "First drug given in hyperkalaemia with ECG changes is:", "Medicine", "Nephrology",
     "Calcium stabilises the myocardial membrane within minutes; it does not lower potassium, so insulin/glucose "
     "and salbutamol follow."),
    ("myasthenia", "cause", "Myasthenia gravis is caused by:", "Medicine", "Neurology",
     "Antibodies against the acetylcholine receptor reduce the number of functional receptors at the end plate."),
    ("myasthenia", "pharm", "Drug used for symptomatic treatment of myasthenia gravis is:", "Pharmacology",
     "Autonomic nervous system", "Pyridostigmine inhibits acetylcholinesterase and prolongs acetylcholine action."),
    ("parkinson", "cause", "Parkinson disease results from:", "Pathology", "Nervous system",
     "Depigmentation of the substantia nigra with Lewy bodies in the surviving neurons is typical."),
    ("mononucleosis", "organism", "Infectious mononucleosis is caused by:", "Microbiology", "Virology",
     "EBV infects B cells through CD21; the atypical lymphocytes are reactive T cells."),
    ("lyme", "organism", "Causative agent of Lyme disease is:", "Microbiology", "Bacteriology",
     "Borrelia burgdorferi is a spirochaete carried by Ixodes ticks."),
    ("lyme", "pharm", "Drug of choice for erythema migrans in a non-pregnant adult is:", "Pharmacology",
     "Antimicrobials", "Doxycycline for 10 to 14 days treats early localised disease."),
    ("c_difficile", "pharm", "Drug of choice for a first episode of Clostridioides difficile infection is:",
     "Pharmacology", "Antimicrobials", "Oral vancomycin or fidaxomicin is preferred; intravenous vancomycin does not "
     "reach the colon."),
    ("testicular_torsion", "next", "Management of suspected testicular torsion is:", "Surgery", "Urology",
     "Exploration within 6 hours of onset salvages most testes; imaging should not delay surgery."),
    ("hashimoto", "pharm", "Treatment of primary hypothyroidism is:", "Pharmacology", "Endocrine",
     "Levothyroxine replaces T4, and the dose is titrated to the TSH."),
    ("iron_deficiency", "test", "Iron deficiency anaemia in an elderly man should first be investigated with:",
     "Medicine", "Haematology", "Occult gastrointestinal malignancy must be excluded, usually by colonoscopy."),
    ("ischemic_stroke", "cause", "Broca aphasia with right hemiparesis indicates a lesion in the territory of the:",
     "Medicine", "Neurology", "The left middle cerebral artery supplies the frontal speech area and motor cortex "
     "of the face and arm."),
    ("heart_failure", "pharm", "Drug used first to relieve pulmonary congestion in acute heart failure is:",
     "Pharmacology", "Cardiovascular", "Loop diuretics reduce preload and relieve pulmonary oedema quickly."),
    ("alcohol_withdrawal", "pharm", "Drug of choice for delirium tremens is:", "Psychiatry", "Substance use",
     "Benzodiazepines such as lorazepam or diazepam control agitation and prevent seizures."),
    ("depression", "pharm", "First-line drug for major depressive disorder is:", "Psychiatry", "Mood disorders",
     "SSRIs such as sertraline are preferred for their safety and tolerability."),
    ("meningococcal_meningitis", "pharm", "Empirical antibiotic treatment of bacterial meningitis in young "
     "adults is:", "Medicine", "Infectious diseases", "A third-generation cephalosporin with vancomycin covers "
     "meningococcus and resistant pneumococcus."),
    ("ectopic_pregnancy", "next", "Treatment of a ruptured ectopic pregnancy with shock is:",
     "Gynaecology & Obstetrics", "Ectopic pregnancy", "Haemodynamic instability is an indication for immediate "
     "surgery; methotrexate is for stable unruptured cases."),
    ("asthma", "pharm", "Drug of choice for an acute exacerbation of asthma is:", "Pharmacology",
     "Respiratory system", "Short-acting beta-2 agonists relieve bronchospasm within minutes; ipratropium and/or systemic steroids are "
     "added in severe attacks."),
    ("pneumococcal_pneumonia", "organism", "Most common cause of community-acquired pneumonia is:",
     "Microbiology", "Bacteriology", "Streptococcus pneumoniae remains the leading bacterial cause worldwide."),
    ("angle_closure", "pharm", "Systemic drug given to lower intraocular pressure in acute angle-closure "
     "glaucoma is:", "Ophthalmology", "Glaucoma", "Carbonic anhydrase inhibitors reduce aqueous secretion."),
)

OPTION_KEYS = ("opa", "opb", "opc", "opd")


def _row(rng: random.Random, subject: str, topic: str | None, question: str, correct: str,
         wrong: list[str], exp: str, choice_type: str, cop: int) -> dict:
    opts = wrong[: cop - 1] + [correct] + wrong[cop - 1 :]
    letter = "abcd"[cop - 1]
    row = {"question": question, "exp": f"Ans. is '{letter}' i.e., {correct}. {exp}", "cop": cop}
    row.update(dict(zip(OPTION_KEYS, opts, strict=True)))
    row.update({"subject_name": subject, "topic_name": topic, "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "choice_type": choice_type})
    return row


def build(seed: int = 11) -> list[dict]:
    """All 100 items in a fixed shuffled order, correct options cycling over a..d."""
    rng = random.Random(seed)
    conds = {c.key: c for c in CONDITIONS}
    raw: list[tuple] = []
    for subject, topic, q, correct, w1, w2, w3, exp, ctype in HAND:
        raw.append((subject, topic, q, correct, [w1, w2, w3], exp, ctype))
    for key, kind_name, stem, subject, topic, exp in DERIVED:
        kind = conds[key].kinds[kind_name]
        raw.append((subject, topic, stem, kind.answer, list(kind.distractors[:3]), exp, "single"))
    rng.shuffle(raw)
    return [_row(rng, *r, cop=(i % 4) + 1) for i, r in enumerate(raw)]
