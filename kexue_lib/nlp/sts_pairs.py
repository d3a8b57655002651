"""A small sentence-similarity set written for the book (chapter ``nlp/whitening``).

62 English sentence pairs with a similarity score from 0 to 5, graded on the scale of
the STS benchmarks:

* 5: the two sentences mean the same thing;
* 4: mostly equivalent, an unimportant detail differs;
* 3: roughly equivalent, but some important information differs or is missing;
* 2: not equivalent, but they share some details;
* 1: not equivalent, only the topic is the same;
* 0: unrelated.

The sentences and scores were written by the book's authors for this chapter (one
annotator, so the scores are coarser than a crowd-sourced average). They are a test set
for unsupervised similarity. No model was tuned on them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STS_PAIRS", "sentence_pairs"]

#: (sentence 1, sentence 2, score in [0, 5])
STS_PAIRS: list[tuple[str, str, float]] = [
    # 5 — same meaning
    (
        "A man is playing the guitar on a stage.",
        "On a stage, a man plays the guitar.",
        5,
    ),
    (
        "The train to Berlin leaves at nine in the morning.",
        "The Berlin train departs at 9 a.m.",
        5,
    ),
    (
        "She forgot her umbrella and got soaked in the rain.",
        "Having left her umbrella behind, she was drenched by the rain.",
        5,
    ),
    ("The shop closes early on Sundays.", "On Sundays the store shuts early.", 5),
    (
        "Two children are building a sandcastle on the beach.",
        "A pair of kids are making a sand castle at the beach.",
        5,
    ),
    (
        "The committee rejected the proposal.",
        "The proposal was turned down by the committee.",
        5,
    ),
    (
        "He boiled water to make some tea.",
        "He heated some water in order to brew tea.",
        5,
    ),
    (
        "The price of petrol rose sharply last month.",
        "Last month gasoline prices went up steeply.",
        5,
    ),
    (
        "A cat is sleeping on the windowsill.",
        "A cat is napping on the window ledge.",
        5,
    ),
    (
        "The museum is free for students.",
        "Students can visit the museum at no charge.",
        5,
    ),
    (
        "The doctor told him to rest for a week.",
        "He was advised by the doctor to take a week of rest.",
        5,
    ),
    # 4 — mostly equivalent
    ("A woman is slicing an onion in the kitchen.", "A woman is cutting an onion.", 4),
    (
        "The company hired fifty new engineers this year.",
        "The firm took on about fifty engineers this year.",
        4,
    ),
    ("A dog is running across a snowy field.", "A brown dog runs through the snow.", 4),
    (
        "The flight was delayed by two hours because of fog.",
        "Fog delayed the flight.",
        4,
    ),
    (
        "He reads the newspaper every morning over breakfast.",
        "Every morning he reads the paper.",
        4,
    ),
    (
        "After heavy rain the river burst its banks and flooded the village.",
        "The village was flooded when the river overflowed.",
        4,
    ),
    (
        "The students are taking an exam in the main hall.",
        "Students sit an exam in a large hall.",
        4,
    ),
    (
        "A boy kicked the ball into the neighbour's garden.",
        "The ball ended up in the neighbour's garden after a boy kicked it.",
        4.5,
    ),
    (
        "The bakery sells fresh bread every morning.",
        "Fresh bread is sold at the bakery each day.",
        4,
    ),
    (
        "Scientists discovered a new species of frog in the rainforest.",
        "A new frog species was found in a tropical forest.",
        4,
    ),
    (
        "The orchestra played Beethoven's fifth symphony.",
        "An orchestra performed a Beethoven symphony.",
        3.5,
    ),
    # 3 — roughly equivalent, important information differs
    ("A man is playing the piano in a bar.", "A man is playing music.", 3),
    (
        "The meeting was moved from Monday to Wednesday.",
        "The meeting was rescheduled.",
        3,
    ),
    (
        "Heavy snow closed the roads in the north of the country.",
        "Roads were closed because of bad weather.",
        3,
    ),
    ("The team won the final by three goals to one.", "The team won the final.", 3.5),
    (
        "She bought a red bicycle for her daughter's birthday.",
        "She bought her daughter a bicycle.",
        3.5,
    ),
    (
        "The government will raise taxes on tobacco next year.",
        "Tobacco will become more expensive.",
        3,
    ),
    ("A girl is feeding ducks at the pond.", "A child is at a pond.", 2.5),
    (
        "The new phone has a larger screen and a better camera.",
        "The new phone has a better camera.",
        3,
    ),
    (
        "The hikers reached the summit before sunrise.",
        "The climbers got to the top of the mountain.",
        3,
    ),
    (
        "The library will stay open until midnight during exams.",
        "The library has longer opening hours.",
        3,
    ),
    # 2 — not equivalent, shared details
    ("A man is playing the flute.", "A man is playing the guitar.", 2),
    (
        "The cat chased a mouse under the sofa.",
        "The dog chased a ball in the park.",
        1.5,
    ),
    ("The train to Paris was cancelled.", "The train to Paris was full.", 2),
    ("She is cooking pasta for dinner.", "She is cooking rice for lunch.", 2),
    (
        "The president visited the flooded region.",
        "The president gave a speech about the economy.",
        1.5,
    ),
    (
        "A woman is riding a horse on the beach.",
        "A woman is walking a dog on the beach.",
        2,
    ),
    (
        "The stock market fell sharply on Tuesday.",
        "The stock market rose slightly on Friday.",
        2,
    ),
    ("A boy is painting a picture of a tree.", "A boy is climbing a tree.", 2),
    ("He lost his keys at the station.", "He found his wallet at the station.", 2),
    (
        "The concert was cancelled because of the storm.",
        "The football match went ahead despite the storm.",
        1.5,
    ),
    # 1 — same topic only
    (
        "The recipe calls for two eggs and a cup of flour.",
        "Baking bread at home has become popular.",
        1,
    ),
    (
        "The striker scored in the last minute.",
        "Tickets for the final sold out in an hour.",
        1,
    ),
    (
        "Vaccines have greatly reduced childhood diseases.",
        "The hospital is hiring more nurses.",
        1,
    ),
    (
        "The new law limits working hours for drivers.",
        "Lorry drivers often sleep in their cabs.",
        1,
    ),
    ("Solar panels are getting cheaper every year.", "The power plant burns coal.", 1),
    (
        "The rocket launch was postponed.",
        "Astronauts train for years before a mission.",
        1,
    ),
    (
        "The bank raised interest rates again.",
        "Many people struggle to pay their rent.",
        1,
    ),
    (
        "The violinist practised for six hours a day.",
        "The concert hall was renovated last year.",
        1,
    ),
    (
        "Wolves were reintroduced to the national park.",
        "Deer are common in these forests.",
        1,
    ),
    (
        "The election results will be announced tonight.",
        "Voters queued outside the polling stations.",
        1.5,
    ),
    # 0 — unrelated
    ("A man is slicing tomatoes.", "The stock market closed higher today.", 0),
    ("The baby is sleeping in her cot.", "The volcano erupted last night.", 0),
    (
        "He repaired the roof before winter.",
        "The orchestra tuned their instruments.",
        0,
    ),
    (
        "Penguins live in the southern hemisphere.",
        "She paid the bill with her credit card.",
        0,
    ),
    ("The printer has run out of ink.", "A horse galloped across the field.", 0),
    (
        "The bridge was built in the eighteenth century.",
        "My phone battery dies too quickly.",
        0,
    ),
    ("The chef added salt to the soup.", "The satellite entered orbit around Mars.", 0),
    ("A girl is playing the violin.", "The parliament passed a new budget.", 0),
    ("The marathon starts at the city hall.", "Mushrooms grow in damp places.", 0),
    ("They painted the kitchen yellow.", "The comet will be visible next week.", 0),
]


def sentence_pairs() -> tuple[list[str], list[str], np.ndarray]:
    """The pairs as ``(first sentences, second sentences, scores)``; scores a float
    array in [0, 5]."""
    a = [p[0] for p in STS_PAIRS]
    b = [p[1] for p in STS_PAIRS]
    return a, b, np.array([float(p[2]) for p in STS_PAIRS])
