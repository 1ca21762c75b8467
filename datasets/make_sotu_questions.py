#!/usr/bin/env python3
"""Week 20's labelled questions over the State of the Union corpus (text/sotu.jsonl.gz).

The method, run once and committed with its output:
1. Candidates: every address is split into sentences; a sentence qualifies if it has 15-40
   words, no "(Applause" or "Laughter", and a number or a capitalised word past its first word.
   They are ranked by distinctiveness (the summed inverse document frequency of their words over
   all the corpus's sentences, divided by the square root of their distinct words), and a seeded
   draw (random.Random(20)) takes 2 of an address's 8 best if it is the 1st, 3rd, 5th ... address
   of the corpus, 1 otherwise: 119 candidates spread over 1945-2021.
2. Questions, written by hand, one per candidate (below, by the candidate's number): a question
   the sentence answers, in other words than the sentence's wherever the sentence allows, so that
   matching words is not enough. Three candidates too generic to have one right passage are
   skipped: 116 questions.
3. Reviewed by hand against each sentence's context in the address (the neighbouring 350
   characters): the questions that named what only the context says were rewritten.

Each line of the output: id, question, the address (its position in the corpus, year, president),
the gold sentence and its byte range in the address's text (UTF-8). A retrieved chunk is relevant
when it overlaps that range, whatever the chunker.

Usage: python3 datasets/make_sotu_questions.py   (standard library only)
"""
import collections
import gzip
import json
import math
import pathlib
import random
import re

HERE = pathlib.Path(__file__).resolve().parent
rows = [json.loads(l) for l in gzip.open(HERE / 'text' / 'sotu.jsonl.gz')]
split = re.compile(r'(?<=[.?!])["”’)]*\s+(?=[A-Z0-9"“(])')
def sentences(t):
    out=[]; pos=0
    for m in split.finditer(t):
        out.append((pos, m.start())); pos=m.end()
    out.append((pos, len(t.rstrip())))
    return [(s,e) for s,e in out if e>s]
docs=[]
for i,r in enumerate(rows):
    for s,e in sentences(r['text']):
        docs.append((i,s,e,r['text'][s:e]))
words=lambda t: re.findall(r"[a-z]+", t.lower())
df=collections.Counter()
for d in docs: df.update(set(words(d[3])))
N=len(docs)
idf={w: math.log(N/c) for w,c in df.items()}
rng=random.Random(20)
picked=[]
for i,r in enumerate(rows):
    cands=[]
    for (j,s,e,t) in docs:
        if j!=i: continue
        n=len(t.split())
        if not (15<=n<=40): continue
        if '(Applause' in t or 'Laughter' in t: continue
        toks=t.split()
        has=any(re.search(r'\d',w) for w in toks) or any(w[0].isupper() for w in toks[1:] if w[0].isalpha())
        if not has: continue
        score=sum(idf.get(w,0) for w in set(words(t)))/ (len(set(words(t)))**0.5)
        cands.append((score,s,e,t))
    cands.sort(reverse=True)
    top=cands[:8]
    k=2 if i%2==0 else 1
    for c in rng.sample(top, min(k,len(top))):
        picked.append({"speech": i, "year": r['year'], "president": r['president'], "start": c[1], "end": c[2], "sentence": c[3]})

# Question i is about candidate i (None: skipped).
Q = {
0: "Why was it right to keep fighting alongside Britain and Russia rather than focus only on Japan?",
1: "Which two allies did America have in Europe during the war, besides the resistance movements?",
2: "What hourly minimum wage figures were proposed for the industry committee procedure after the war?",
3: "Was the Army able to fill its needs with volunteers after the war?",
4: "When can America safely reduce its military strength after the war?",
5: None,
6: "Which labor law did the President say discriminates against working people and hampers collective bargaining?",
7: "Should prejudice bar any citizen from education, health or a job?",
8: "What did the President ask Congress to do about the displaced persons law?",
9: "Which raw material for atomic power would be lost if Asia and Africa fell to the Soviets?",
10: "What would happen if the Soviet Union harnessed the resources of the free nations on its borders?",
11: "How much of the cost of the Second World War would have fed the whole world?",
12: "Which two great needs of an industrial economy did the administration name, such as safeguards against personal disaster?",
13: "What will the Postmaster General do to improve mail service and cut costs?",
14: "How does the Kremlin use deluded followers in the free world?",
15: "How does keeping appropriation requests below revenues reduce unfinanced obligations?",
16: "What will the Attorney General propose to fight subversion?",
17: "Which river and dam partnership projects in Washington, Alabama and Oklahoma were already approved?",
18: "Why should the United States join the Organization for Trade Cooperation?",
19: "Why are the Hawaiian Islands a laboratory in human brotherhood, where East meets West?",
20: None,
21: None,
22: "What did the President ask of the Soviet government about the flow of ideas between the peoples?",
23: "How do Communists regard international agreements?",
24: "Was the economy still emerging from a downturn a year before the 1960 address?",
25: "Why do Communist material accomplishments appeal to uncommitted nations?",
26: "What cultural exchange agreement with the Soviet Union allowed distributing the magazine Amerika?",
27: "What does the eagle on the Presidential Coat of Arms hold in its talons?",
28: "Why did the new President not offer detailed legislation after barely a week in office?",
29: "How much do the old farm laws cost each year in CCC carrying charges?",
30: "What is the real issue in the world struggle, according to the President, instead of communism versus capitalism?",
31: "How are the free nations of Europe moving toward unity, contrary to Marx's prophecies?",
32: "Will the reduced defense budget still keep a margin of military superiority?",
33: "Who will study the national problem of crime and delinquency?",
34: "Which earlier President's words about asking only what is right guide foreign relations?",
35: "Why should the two-year term of members of the House be lengthened?",
36: "What happened to the Asian Development Bank that the President had recommended?",
37: "How many civilians were kidnapped and killed by terrorists in South Vietnam?",
38: "Who stands guard for America in Vietnam while peace is not yet assured?",
39: "What did the President propose about the Commission's recommendation on congressional salaries?",
40: "Has part of the American land, its shores, parks and forests, been set aside for the public for good?",
41: "Would members of Congress dare walk home alone at night from the Capitol?",
42: "Why has a feeling of frustration crept across the land as life grew bigger and more impersonal?",
43: "What vision did the Thirteen Colonies open when they declared independence?",
44: "Who is reviewing the tax aspects of school financing, with the intergovernmental commission?",
45: "How did wasteful federal programs undermine public faith in government?",
46: "Which further State of the Union reports will the President send to Congress in writing?",
47: "How did the prisoners of war come home from Vietnam?",
48: "What did the freshman congressman see when President Truman reported on the state of the Union?",
49: "Which naval petroleum reserve in California should be opened to commercial production?",
50: "How many additional federal agents did the budget propose against handgun crime in big cities?",
51: "Why does the Constitution place supreme authority beyond any one person or party?",
52: "What did the Vladivostok Accord with Brezhnev establish about strategic weapons?",
53: "What is the greatest contribution America could make to the world economy, according to foreign leaders?",
54: "What progress was made with the NATO allies on readiness and defense forces in Europe?",
55: "What other anti-inflation actions did the President ask of Congress, such as solar power and exports?",
56: "How should intelligence gathering be made both safer from abuse and more effective?",
57: "What was done for veterans exposed to Agent Orange in Southeast Asia?",
58: "Which coal exporting ports are congested, delaying exports of steam coal?",
59: "Which government employee dived into the icy Potomac to save a woman after the plane crash?",
60: "What will happen to the recovery if the government does not tighten its belt?",
61: "Which wise man said America never forgot the nobler things that brought her into being?",
62: "What opportunities for women did the President promise, such as pensions and child support enforcement?",
63: "How have Americans refound their values through volunteering and the Peace Corps?",
64: "Who was asked to develop a plan to simplify the tax code?",
65: "Who was directed to see whether nations should meet about the role of their currencies?",
66: "Which special messages, such as welfare and budget reform, will be sent to Congress in the coming weeks?",
67: "What did Benjamin Franklin look at as the Constitution was being signed?",
68: "Why is the INF treaty historic for arms control verification?",
69: "Which poem was in the letter President Roosevelt sent by hand to Churchill?",
70: "What did the new President remember about the economy when Reagan spoke eight years earlier?",
71: "Who predicted that the Berlin Wall would stand for another hundred years?",
72: "Which tax proposals for families, home buyers and capital gains were in the budget?",
73: "Which woman from Massachusetts wrote that people were hurting badly in the slowing economy?",
74: "What did American soldiers write on walls from the German stalags to the Iraqi desert?",
75: "How were the proposed spending cuts designed to move the budget from consumption to investment?",
76: "How high would the national debt reach if stacked in thousand-dollar bills, as Reagan said?",
77: "Which welfare mother told forty governors she wanted her son to be able to say what she does for a living?",
78: "How have citizens been treated like spectators or political couch potatoes?",
79: "Who learned the lessons of citizenship on Iwo Jima fifty years ago?",
80: "What legislation against terrorism was proposed after the Oklahoma City bombing?",
81: "Why should there be no balanced budget amendment to the Constitution?",
82: "Who worked to set national credentials for excellence in teaching?",
83: "Which former Chairmen of the Joint Chiefs of Staff endorsed the test ban treaty?",
84: "How will talented young teachers be attracted to the inner cities and rural areas?",
85: "Which natural places are being restored or protected, like the Everglades and Yellowstone?",
86: "How will the government crack down on illegal gun traffickers and bad dealers?",
87: "Which mayor of Philadelphia encouraged faith-based organizations?",
88: "How will federal education programs be streamlined to give states flexibility?",
89: "Which terrorist groups operate in remote jungles and deserts and large cities?",
90: "Which terrorist plots against embassies and a Saudi base were stopped?",
91: "What methods of torture were used in Iraq?",
92: "What did the leader of Libya pledge about his weapons of mass destruction?",
93: "What did the comprehensive energy strategy submitted four years earlier include?",
94: "Which Marine sergeant from Texas was killed in the assault on Fallujah?",
95: "Why do Americans show compassion abroad for people with AIDS or malaria?",
96: "Which sacred place of Shia Islam did Al Qaida blow up?",
97: "Which congressman from Baltimore saw Roosevelt and Truman at the rostrum?",
98: "Where did terrorist bombs strike weddings, mosques and trains?",
99: "Why might Wall Street prefer bank bailouts with no strings attached?",
100: "What share of the recovery plan's jobs will be in the private sector, building roads and wind turbines?",
101: "Why are people frustrated that Wall Street is rewarded and Main Street is not?",
102: "How should Social Security be strengthened without risking retirees' income on the stock market?",
103: "What is the Apollo project of our time for scientists and engineers?",
104: "Why does crumbling infrastructure like broadband hurt a small business owner in rural America?",
105: "Where will the new manufacturing hubs with the Department of Defense and Energy be launched?",
106: "Which police officer was first to arrive when a gunman attacked a Sikh temple?",
107: "Who could not get health insurance because of a preexisting condition?",
108: "Why should Congress not take away health insurance or unravel Wall Street rules?",
109: "What is the Precision Medicine Initiative meant to do?",
110: "What did the reform of No Child Left Behind achieve for graduation rates?",
111: "Who was the young man getting ready to play college football before he was murdered?",
112: "Which families lost loved ones to crimes by illegal immigrants, as the President told the chamber?",
113: "Which tax on people who could not afford government health plans was eliminated?",
114: "Whose sentence did the President commute, seeing her family greet her at the prison gates?",
115: "How do human traffickers use the open areas between ports of entry?",
116: "Which famous Americans, like Lincoln and Amelia Earhart, are named as part of this nation's home?",
117: "What did the President ask of Senate Republicans about background checks for gun purchases?",
118: "Which educator in Florida worried about bringing the virus home to her sick child?",
}


out = []
for i, c in enumerate(picked):
    question = Q[i]
    if question is None:
        continue
    text = rows[c["speech"]]["text"]
    start = len(text[: c["start"]].encode())
    end = start + len(c["sentence"].encode())
    assert text.encode()[start:end].decode() == c["sentence"]
    out.append({
        "id": f"q{len(out) + 1:03}", "question": question, "speech": c["speech"],
        "year": c["year"], "president": c["president"],
        "gold": c["sentence"], "start": start, "end": end,
    })
path = HERE / "text" / "sotu_questions.jsonl"
path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out))
print(f"wrote {len(out)} questions to {path.relative_to(HERE.parent)}")
