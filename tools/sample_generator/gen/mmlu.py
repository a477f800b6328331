"""MMLU-style questions for MEDITRON's nine medical subjects, hand-written: 11 per subject (8 test, 3 dev).

Tuples are (question, A, B, C, D, answer letter). Some fields span lines or hold commas and quotes on purpose: the
official CSVs have both, and the loaders must handle CSV quoting.
"""

from __future__ import annotations

MMLU: dict[str, tuple[tuple[str, str, str, str, str, str], ...]] = {
    "anatomy": (
        ("Which cranial nerve passes through the jugular foramen?", "Vagus nerve", "Facial nerve",
         "Hypoglossal nerve", "Trigeminal nerve", "A"),
        ("The muscle that initiates abduction of the arm in the first 15 degrees is the", "deltoid.",
         "supraspinatus.", "teres major.", "latissimus dorsi.", "B"),
        ("Which of the following structures passes through the carpal tunnel?", "Ulnar nerve", "Ulnar artery",
         "Median nerve", "Tendon of palmaris longus", "C"),
        ("The portal vein is formed by the union of the splenic vein and the", "inferior vena cava.",
         "left renal vein.", "left gastric vein.", "superior mesenteric vein.", "D"),
        ("Which part of the brain contains the respiratory centres that set the basic rhythm of breathing?",
         "Medulla oblongata", "Cerebellum", "Thalamus", "Occipital lobe", "A"),
        ("A patient cannot close the right eye, and the right corner of the mouth droops. Which nerve is "
         "most likely injured?", "Right oculomotor nerve", "Right facial nerve", "Right trigeminal nerve",
         "Left facial nerve", "B"),
        ("The femoral triangle is bounded by the inguinal ligament, the sartorius, and the", "gracilis.",
         "vastus medialis.", "adductor longus.", "rectus femoris.", "C"),
        ("Which bone articulates with the head of the radius at the elbow?", "Olecranon of the ulna",
         "Trochlea of the humerus", "Scaphoid", "Capitulum of the humerus", "D"),
        ("How many pairs of spinal nerves are there in humans?", "31", "33", "12", "26", "A"),
        ("Which chamber of the heart forms most of its anterior (sternocostal) surface?", "Left atrium",
         "Right ventricle", "Left ventricle", "Right atrium", "B"),
        ("The structure that connects the two cerebral hemispheres and carries most fibres between them is the",
         "internal capsule.", "fornix.", "corpus callosum.", "pons.", "C"),
    ),
    "clinical_knowledge": (
        ("What is the normal range of the adult resting respiratory rate?", "12 to 20 breaths per minute",
         "6 to 10 breaths per minute", "22 to 30 breaths per minute", "30 to 40 breaths per minute", "A"),
        ("Which of the following is the correct order for hand hygiene with soap and water?",
         "Dry, wet, soap, rinse", "Wet, soap, rub all surfaces, rinse, dry", "Soap, dry, wet, rinse",
         "Rinse, dry, soap, wet", "B"),
        ("A pulse oximeter reading may be falsely normal in which of the following situations?",
         "Severe anaemia", "Cold peripheries", "Carbon monoxide poisoning", "Nail varnish", "C"),
        ("When measuring blood pressure, a cuff that is too small for the arm will", "give no reading at all.",
         "underestimate the blood pressure.", "have no effect on the reading.", "overestimate the blood pressure.",
         "D"),
        ("Which of these is a sign of dehydration in an adult?", "Reduced skin turgor and dry mucous membranes",
         "Bradycardia", "Raised jugular venous pressure", "Polyuria with pale urine", "A"),
        ("The Glasgow Coma Scale assesses", "pupil size, pulse and blood pressure.",
         "eye opening, verbal response and motor response.", "orientation, memory and attention.",
         "reflexes, tone and power.", "B"),
        ("A patient says, \"I feel dizzy, my mouth is dry, and I've only passed a little dark urine today.\" "
         "Which action comes first?", "Give a diuretic", "Restrict fluids", "Assess fluid balance and vital signs",
         "Arrange a chest x-ray", "C"),
        ("For how long should chest compressions be interrupted, at most, to check for a rhythm during adult "
         "resuscitation?", "30 seconds", "1 minute", "20 seconds", "10 seconds", "D"),
        ("Which route of insulin administration is used for routine daily injections?", "Subcutaneous",
         "Intramuscular", "Intradermal", "Intravenous", "A"),
        ("Which finding suggests that an intravenous cannula site has become infected?",
         "A cool, pale area around the site", "Redness, warmth and pus at the site", "A slow drip rate",
         "Mild bruising after insertion", "B"),
        ("Which of the following is the most reliable indicator of adequate urine output in an adult?",
         "Thirst", "Skin colour", "At least 0.5 mL/kg/h", "Number of visits to the toilet", "C"),
    ),
    "college_biology": (
        ("Which organelle is the site of oxidative phosphorylation in eukaryotic cells?", "Mitochondrion",
         "Golgi apparatus", "Lysosome", "Smooth endoplasmic reticulum", "A"),
        ("In the lac operon, the repressor protein binds to the", "promoter.", "operator.", "lacZ gene.",
         "CAP site.", "B"),
        ("Crossing over between homologous chromosomes occurs during", "anaphase II.", "metaphase of mitosis.",
         "prophase I.", "telophase I.", "C"),
        ("Which of the following is NOT a function of the smooth endoplasmic reticulum?", "Lipid synthesis",
         "Detoxification of drugs", "Calcium storage in muscle", "Synthesis of secretory proteins", "D"),
        ("A population is in Hardy-Weinberg equilibrium with an allele frequency q = 0.3. What is the frequency "
         "of heterozygotes?", "0.42", "0.09", "0.49", "0.21", "A"),
        ("Which enzyme unwinds the DNA double helix at the replication fork?", "DNA ligase", "Helicase",
         "Primase", "Topoisomerase IV", "B"),
        ("The Calvin cycle takes place in the", "thylakoid membrane.", "cytosol.", "stroma of the chloroplast.",
         "intermembrane space.", "C"),
        ("Which of the following statements about enzymes is correct?", "They raise the activation energy.",
         "They are consumed in the reaction.", "They change the equilibrium constant.",
         "They lower the activation energy.", "D"),
        ("Which type of bond holds the two strands of DNA together?", "Hydrogen bonds", "Peptide bonds",
         "Ionic bonds only", "Disulfide bonds", "A"),
        ("A mutation that changes a codon to a stop codon is called a", "missense mutation.",
         "nonsense mutation.", "silent mutation.", "frameshift mutation.", "B"),
        ("Which molecule carries amino acids to the ribosome?", "mRNA", "rRNA", "tRNA", "snRNA", "C"),
    ),
    "college_medicine": (
        ("Which hormone, released by the posterior pituitary, increases water reabsorption in the collecting duct?",
         "Antidiuretic hormone", "Aldosterone", "Atrial natriuretic peptide", "Cortisol", "A"),
        ("During intense exercise, muscle cells produce lactate mainly to", "store glucose.",
         "regenerate NAD+ for glycolysis.", "synthesise fatty acids.", "increase oxygen delivery.", "B"),
        ("Which of the following is a direct effect of sympathetic stimulation of the heart?",
         "Decreased heart rate", "Decreased contractility", "Increased heart rate and contractility",
         "Slowed atrioventricular conduction", "C"),
        ("A researcher finds that a new drug lowers blood pressure in 40 volunteers. Without a control group, the "
         "main threat to the conclusion is", "the small effect size.", "measurement error in the cuff.",
         "too many participants.", "regression to the mean and placebo effects.", "D"),
        ("Which vitamin is required as a cofactor for the carboxylation of clotting factors II, VII, IX, and X?",
         "Vitamin K", "Vitamin C", "Vitamin B6", "Vitamin A", "A"),
        ("Which of the following best explains why a person with sickle cell trait is relatively protected "
         "against severe malaria?", "The red cells lack the Duffy antigen.",
         "Infected red cells sickle and are cleared by the spleen.", "Haemoglobin S binds oxygen more tightly.",
         "The parasite cannot enter reticulocytes.", "B"),
        ("Which of the following is the primary buffer system of the extracellular fluid?", "Phosphate",
         "Haemoglobin", "Bicarbonate and carbon dioxide", "Plasma proteins", "C"),
        ("Which of the following best describes the Frank-Starling mechanism?",
         "Heart rate rises when blood pressure falls.", "Vessels constrict when stretched.",
         "Afterload determines stroke volume alone.",
         "Stroke volume rises with increased end-diastolic volume.", "D"),
        ("Insulin increases glucose uptake into skeletal muscle mainly by", "moving GLUT4 to the cell membrane.",
         "increasing glycogenolysis.", "opening sodium channels.", "inhibiting hexokinase.", "A"),
        ("A sprinter's \"fast-twitch\" fibres differ from \"slow-twitch\" fibres in that they",
         "contain more mitochondria.", "rely more on anaerobic glycolysis.", "contain more myoglobin.",
         "fatigue more slowly.", "B"),
        ("The main site of nutrient absorption in the gastrointestinal tract is the", "stomach.", "colon.",
         "small intestine.", "oesophagus.", "C"),
    ),
    "high_school_biology": (
        ("Which of the following is the basic unit of life?", "The cell", "The atom", "The organ", "The tissue",
         "A"),
        ("Which process do plants use to convert light energy into chemical energy?", "Respiration",
         "Photosynthesis", "Transpiration", "Fermentation", "B"),
        ("In humans, which blood vessels carry blood away from the heart?", "Veins", "Capillaries", "Arteries",
         "Lymphatic vessels", "C"),
        ("If a cell has 46 chromosomes before meiosis, how many chromosomes does each gamete have?", "92", "46",
         "12", "23", "D"),
        ("Which of the following is an example of a producer in a food chain?", "Grass", "Rabbit", "Fox",
         "Mushroom", "A"),
        ("Which gas is released as a by-product of photosynthesis?", "Carbon dioxide", "Oxygen", "Nitrogen",
         "Methane", "B"),
        ("The passive movement of water across a semipermeable membrane is called", "active transport.",
         "endocytosis.", "osmosis.", "phagocytosis.", "C"),
        ("Which part of a flower develops into the fruit?", "Anther", "Petal", "Stigma", "Ovary", "D"),
        ("Which blood cells are mainly responsible for fighting infection?", "White blood cells",
         "Red blood cells", "Platelets", "Plasma cells of the bone", "A"),
        ("In pea plants, tall (T) is dominant to short (t). What fraction of the offspring of a Tt x Tt cross is "
         "expected to be short?", "1/2", "1/4", "3/4", "0", "B"),
        ("Which structure controls which substances enter and leave the cell?", "Nucleus", "Ribosome",
         "Cell membrane", "Vacuole", "C"),
    ),
    "medical_genetics": (
        ("Cystic fibrosis is inherited in which pattern?", "Autosomal recessive", "Autosomal dominant",
         "X-linked recessive", "Mitochondrial", "A"),
        ("Down syndrome most commonly results from", "a balanced translocation.",
         "nondisjunction in maternal meiosis.", "uniparental disomy.", "a point mutation on chromosome 21.", "B"),
        ("A man with haemophilia A and a woman who is not a carrier have a daughter. What is the probability that "
         "she is a carrier?", "0%", "25%", "100%", "50%", "C"),
        ("Anticipation, the earlier onset of disease in successive generations, is typical of",
         "phenylketonuria.", "sickle cell disease.", "Marfan syndrome.", "Huntington disease.", "D"),
        ("Which of the following karyotypes corresponds to Turner syndrome?", "45,X", "47,XXY", "47,XYY",
         "46,XX", "A"),
        ("The probability that two carrier parents have a child affected by an autosomal recessive disorder is",
         "1 in 2.", "1 in 4.", "1 in 8.", "1 in 16.", "B"),
        ("Which technique detects a microdeletion on chromosome 22q11?", "Sanger sequencing of one exon",
         "Conventional G-banded karyotype alone", "Fluorescence in situ hybridisation",
         "Southern blot for triplet repeats", "C"),
        ("Genomic imprinting explains why a deletion on chromosome 15q11-q13 causes", "the same syndrome "
         "whichever parent it comes from.", "only neural tube defects.", "disease only in males.",
         "Prader-Willi syndrome when paternal, Angelman syndrome when maternal.", "D"),
        ("A gene with many alleles, such as the ABO blood group gene, shows", "multiple allelism.",
         "incomplete penetrance.", "pleiotropy.", "linkage.", "A"),
        ("Which of the following is a mitochondrial disorder?", "Duchenne muscular dystrophy",
         "Leber hereditary optic neuropathy", "Fragile X syndrome", "Tay-Sachs disease", "B"),
        ("Fragile X syndrome is caused by an expansion of which repeat?", "CAG", "GAA", "CGG", "CTG", "C"),
    ),
    "nutrition": (
        ("Which vitamin is synthesised in the skin on exposure to sunlight?", "Vitamin D", "Vitamin A",
         "Vitamin E", "Vitamin C", "A"),
        ("How many kilocalories does one gram of fat provide?", "4", "9", "7", "2", "B"),
        ("Which mineral deficiency is the most common cause of anaemia worldwide?", "Zinc", "Calcium", "Iron",
         "Iodine", "C"),
        ("Which of the following foods is the richest source of vitamin B12?", "Spinach", "Rice", "Apples",
         "Liver", "D"),
        ("Kwashiorkor is primarily caused by", "inadequate protein intake with relatively adequate energy.",
         "excess vitamin A.", "a lack of dietary fibre.", "too much sodium.", "A"),
        ("Which of the following is a water-soluble vitamin?", "Vitamin K", "Folate", "Vitamin D",
         "Vitamin E", "B"),
        ("The body mass index is calculated as", "height divided by weight.",
         "weight in pounds divided by height in inches.", "weight in kilograms divided by height in metres squared.",
         "waist circumference divided by hip circumference.", "C"),
        ("Which dietary pattern, rich in fruit, vegetables, legumes, whole grains and olive oil, has been linked "
         "with a lower risk of cardiovascular disease?", "A ketogenic diet", "A carnivore diet",
         "A high-sugar diet", "A Mediterranean diet", "D"),
        ("Iodine deficiency during pregnancy can cause", "impaired neurodevelopment of the fetus.",
         "neural tube defects.", "scurvy.", "night blindness.", "A"),
        ("Which nutrient is the body's preferred source of fuel for the brain under normal conditions?",
         "Fatty acids", "Glucose", "Amino acids", "Ketone bodies", "B"),
        ("A patient asks, \"Is brown rice, whole wheat, or oatmeal better for fibre?\" Which statement is "
         "accurate?", "None of them contains fibre.", "Only brown rice contains fibre.",
         "All three are whole grains that provide dietary fibre.", "Fibre is found only in meat.", "C"),
    ),
    "professional_medicine": (
        ("A 24-year-old woman has had episodes of palpitations, sweating, and fear of dying that peak within "
         "10 minutes, occur unexpectedly, and have led her to avoid crowded places. Physical examination and ECG "
         "are normal. Which of the following is the most appropriate long-term pharmacotherapy?", "Sertraline",
         "Alprazolam as needed", "Propranolol", "Haloperidol", "A"),
        ("A 68-year-old man has had progressive shortness of breath over 2 years. He has smoked 40 pack-years. "
         "Spirometry shows an FEV1/FVC ratio of 0.58 that does not improve after a bronchodilator. Which of the "
         "following interventions has been shown to prolong survival in this condition?", "Inhaled albuterol",
         "Smoking cessation", "Oral theophylline", "Inhaled ipratropium", "B"),
        ("A 55-year-old woman with type 2 diabetes mellitus has a urine albumin-to-creatinine ratio of 120 mg/g "
         "on two occasions. Her blood pressure is 138/86 mm Hg. Which of the following drugs is most likely to "
         "slow the progression of her kidney disease?", "Hydrochlorothiazide", "Amlodipine", "Lisinopril",
         "Metoprolol", "C"),
        ("A 30-year-old man has had low back pain and morning stiffness for 8 months that improves with exercise "
         "but not with rest. X-rays show bilateral sacroiliitis. Which of the following is most likely to be "
         "positive?", "Rheumatoid factor", "Anti-cyclic citrullinated peptide antibody",
         "Antinuclear antibody", "HLA-B27", "D"),
        ("A 45-year-old man is found to have a serum calcium of 11.4 mg/dL and an elevated parathyroid hormone "
         "concentration on routine testing. Which of the following is the most likely cause?",
         "Parathyroid adenoma", "Squamous cell carcinoma of the lung", "Vitamin D intoxication",
         "Sarcoidosis", "A"),
        ("A 72-year-old woman has had gradual, painless loss of central vision in both eyes. Fundoscopy shows "
         "drusen at the maculae. Which of the following is the most likely diagnosis?", "Cataract",
         "Age-related macular degeneration", "Open-angle glaucoma", "Retinal detachment", "B"),
        ("A 35-year-old woman has fatigue, pruritus and an alkaline phosphatase activity three times the upper "
         "limit of normal. Antimitochondrial antibodies are present. Which of the following is the most "
         "appropriate initial treatment?", "Prednisone", "Liver transplantation", "Ursodeoxycholic acid",
         "Interferon alfa", "C"),
        ("A 60-year-old man has an irregularly irregular pulse of 88/min. He has hypertension and diabetes "
         "mellitus; his CHA2DS2-VASc score is 2. Which of the following is the most appropriate measure to "
         "prevent stroke?", "Aspirin alone", "No treatment", "Clopidogrel alone", "A direct oral anticoagulant",
         "D"),
        ("A 19-year-old woman who injects drugs has fever, pleuritic chest pain and a new cardiac murmur. Blood cultures "
         "grow gram-positive cocci in clusters. Which valve is most commonly affected in this setting?",
         "Tricuspid valve", "Mitral valve", "Aortic valve", "Pulmonary valve", "A"),
        ("A 52-year-old man has a blood pressure of 158/98 mm Hg on three visits. He has no other conditions. "
         "Which of the following is an appropriate first-line drug?", "Clonidine", "Amlodipine", "Minoxidil",
         "Hydralazine", "B"),
        ("A 26-year-old woman has had diarrhoea, bloating and weight loss since childhood. Anti-tissue "
         "transglutaminase IgA antibodies are present. Which of the following is the most appropriate "
         "management?", "Long-term antibiotics", "Lactose-free diet only", "Lifelong gluten-free diet",
         "Oral prednisone", "C"),
    ),
    "virology": (
        ("Which enzyme allows retroviruses to make DNA from their RNA genome?", "Reverse transcriptase",
         "RNA-dependent RNA polymerase", "Integrase", "Neuraminidase", "A"),
        ("Which virus causes shingles on reactivation?", "Herpes simplex virus type 2", "Varicella-zoster virus",
         "Epstein-Barr virus", "Cytomegalovirus", "B"),
        ("The influenza virus protein that allows new virions to be released from the host cell is",
         "haemagglutinin.", "M2 ion channel.", "neuraminidase.", "nucleoprotein.", "C"),
        ("Which of the following viruses is transmitted mainly by the faecal-oral route?", "Hepatitis B virus",
         "Hepatitis C virus", "Human immunodeficiency virus", "Hepatitis A virus", "D"),
        ("Which cell surface molecule is the main receptor for HIV?", "CD4", "CD8", "CD19", "CD21", "A"),
        ("Antigenic shift in influenza A viruses results from", "point mutations in haemagglutinin.",
         "reassortment of genome segments.", "recombination with host DNA.", "loss of the envelope.", "B"),
        ("Which of the following vaccines contains live attenuated virus?", "Inactivated poliovirus vaccine",
         "Hepatitis B vaccine", "Measles, mumps, and rubella vaccine", "Human papillomavirus vaccine", "C"),
        ("Koplik spots on the buccal mucosa are a sign of infection with", "rubella virus.", "parvovirus B19.",
         "coxsackievirus A.", "measles virus.", "D"),
        ("Which human papillomavirus types are most strongly associated with cervical cancer?", "16 and 18",
         "6 and 11", "1 and 2", "3 and 10", "A"),
        ("A virus whose genome can be translated directly by host ribosomes has", "a negative-sense RNA genome.",
         "a positive-sense RNA genome.", "a double-stranded DNA genome.", "a segmented DNA genome.", "B"),
        ("Which statement about prions is correct?", "They contain a small RNA genome.",
         "They are destroyed by standard autoclaving.",
         "They are misfolded proteins that induce misfolding of normal proteins.", "They replicate in bacteria.",
         "C"),
    ),
}

MULTILINE = {
    # (subject, index) -> replacement question text with a line break, as some official rows have
    ("clinical_knowledge", 2): "A pulse oximeter reading may be falsely normal in which of the following "
                              "situations?\nSelect the single best answer.",
    ("professional_medicine", 4): "A 45-year-old man is found to have a serum calcium of 11.4 mg/dL and an "
                                 "elevated parathyroid hormone concentration on routine testing.\nWhich of the "
                                 "following is the most likely cause?",
}


def rows(subject: str) -> list[tuple[str, str, str, str, str, str]]:
    out = []
    for i, row in enumerate(MMLU[subject]):
        q = MULTILINE.get((subject, i), row[0])
        out.append((q, *row[1:]))
    return out
