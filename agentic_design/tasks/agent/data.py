"""Arithmetic word problems, generated: a small GSM8K/MGSM-style dataset that costs no download.

Each problem is a two- or three-step story about named people and things (shopping with change,
sharing equally, rates over time, ages, discounts...) whose answer is a non-negative integer.
Every split draws from its own seeded stream of `random.Random`, using only the methods whose
output Python keeps stable across versions and machines (`randint`, `choice`), so the same
call returns the same problems everywhere. `arithmetic_examples(split, n)` is the first `n` of
that split's infinite sequence: asking for more never changes the ones already handed out.

The splits are disjoint without having to build one another: a question belongs to the split
that a hash of its text names, and each split keeps only the questions it owns. Questions are
unique within a split, each holds a sentence with its own names and numbers, and none is a
substring of another, so the full text of a question identifies it inside a longer prompt.

A `salt` draws another set: it is mixed into every split's seed and into the hash that says
which split owns a question. A task scores designs on a salted set whose salt the sandbox never
sees (`AgentTask`), so a design that imports this module cannot make the questions it is asked,
nor their answers. Without a salt (""), the set is the one this module always made.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass

SPLITS: tuple[str, ...] = ("train", "validation", "test")
MAX_EXAMPLES = 20_000  # per split; the generator has room for far more, this bounds a typo

# The words stories are made of, packed by hand (a line per word would hide the templates).
# fmt: off
SHE = ("Amara", "Dalia", "Fatima", "Hana", "Kavya", "Mei", "Nadia", "Priya", "Rosa", "Tomoko",
       "Valeria", "Ximena", "Zanele", "Leila")  # names from many languages, as in MGSM
HE = ("Bilal", "Chen", "Emeka", "Goran", "Ivan", "Jun", "Lucas", "Omar", "Quentin", "Sipho",
      "Umar", "Wei", "Yusuf", "Anders", "Kofi")
THINGS = ("apples", "marbles", "stickers", "pencils", "cookies", "oranges", "stamps", "books",
          "eggs", "shells", "cards", "balloons", "candles", "buttons", "muffins", "notebooks")
GOODS = ("notebooks", "pens", "sandwiches", "kites", "mugs", "candles", "plants", "scarves")
ITEMS = ("lamp", "jacket", "bicycle", "backpack", "chair", "kettle", "tent", "guitar")
BAKED = ("cookies", "muffins", "pancakes", "biscuits", "scones")
RELATIVES = ("mother", "father", "aunt", "uncle", "grandmother", "grandfather")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
VEHICLES = ("train", "bus", "ferry", "truck", "van")
# fmt: on
PEOPLE: tuple[tuple[str, str, str], ...] = tuple(
    [(name, "she", "her") for name in SHE] + [(name, "he", "his") for name in HE]
)
BILLS = (10, 20, 50, 100, 200)  # 200 is more than any bill of goods costs


@dataclass(frozen=True)
class Example:
    """One problem: `answer` is the exact answer in `normalise_answer`'s form, e.g. "42"."""

    id: str
    question: str
    answer: str


def arithmetic_examples(split: str, n: int, salt: str = "") -> list[Example]:
    """The first `n` problems of `split` ("train", "validation" or "test") of the set `salt`
    draws: always the same ones, none repeated, and none found in another split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if not 0 <= n <= MAX_EXAMPLES:
        raise ValueError(f"n must be in [0, {MAX_EXAMPLES}], not {n}")
    rng = random.Random(f"arithmetic {split} {salt}" if salt else f"arithmetic {split}")
    examples: list[Example] = []
    seen: set[str] = set()
    while len(examples) < n:
        question, answer = rng.choice(TEMPLATES)(rng)
        if question in seen or _owner(question, salt) != split:
            continue
        seen.add(question)
        examples.append(Example(f"arith-{split}-{len(examples):04d}", question, str(answer)))
    return examples


def _owner(question: str, salt: str) -> str:
    text = f"{salt}\n{question}" if salt else question
    digest = hashlib.sha256(text.encode()).digest()
    return SPLITS[digest[0] % len(SPLITS)]


# --- templates: each draws its numbers and returns (question, answer) --------------------------

Template = Callable[[random.Random], tuple[str, int]]


def _two_people(rng: random.Random) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    first = rng.choice(PEOPLE)
    second = rng.choice([p for p in PEOPLE if p != first])
    return first, second


def change_from_a_bill(rng: random.Random) -> tuple[str, int]:
    """Money with change: a bill minus count x price."""
    name, he, _ = rng.choice(PEOPLE)
    count, price = rng.randint(2, 9), rng.randint(2, 15)
    bill = rng.choice([b for b in BILLS if b > count * price])
    goods = rng.choice(GOODS)
    question = (
        f"{name} buys {count} {goods} that cost ${price} each and pays with a ${bill} bill. "
        f"How many dollars of change does {he} get back?"
    )
    return question, bill - count * price


def earnings_from_sales(rng: random.Random) -> tuple[str, int]:
    """Selling: two days of sales at one price."""
    name, _, _ = rng.choice(PEOPLE)
    first_day, second_day = _two_days(rng)
    sold_first, sold_second, price = rng.randint(3, 40), rng.randint(3, 40), rng.randint(2, 12)
    goods = rng.choice(GOODS)
    question = (
        f"{name} sells {sold_first} {goods} on {first_day} and {sold_second} {goods} on "
        f"{second_day}, at ${price} each. How many dollars does {name} earn on the two days?"
    )
    return question, (sold_first + sold_second) * price


def _two_days(rng: random.Random) -> tuple[str, str]:
    first = rng.randint(0, len(DAYS) - 2)
    return DAYS[first], DAYS[first + 1]


def sharing_equally(rng: random.Random) -> tuple[str, int]:
    """Sharing equally: two amounts pooled, then split with no remainder."""
    name, he, _ = rng.choice(PEOPLE)
    boxes, each = rng.randint(2, 9), rng.randint(2, 15)
    total = boxes * each
    morning = rng.randint(1, total - 1)
    things = rng.choice(THINGS)
    question = (
        f"{name} collects {morning} {things} in the morning and {total - morning} more in the "
        f"afternoon. {he.capitalize()} packs all of them equally into {boxes} boxes. "
        f"How many {things} go in each box?"
    )
    return question, each


def distance_at_a_rate(rng: random.Random) -> tuple[str, int]:
    """Rate x time: one speed over two stretches of hours."""
    name, he, _ = rng.choice(PEOPLE)
    speed, morning, evening = rng.randint(2, 9), rng.randint(1, 6), rng.randint(1, 6)
    question = (
        f"{name} cycles at {speed} kilometres per hour. {he.capitalize()} rides for {morning} "
        f"hours in the morning and {evening} hours in the evening. "
        f"How many kilometres does {name} ride that day?"
    )
    return question, speed * (morning + evening)


def pages_left(rng: random.Random) -> tuple[str, int]:
    """Rate x time, then what remains."""
    name, he, _ = rng.choice(PEOPLE)
    per_day, days = rng.randint(5, 30), rng.randint(2, 9)
    length = per_day * days + rng.randint(1, 200)
    question = (
        f"{name} reads {per_day} pages a day of a book that has {length} pages. After {days} "
        f"days, how many pages does {he} still have to read?"
    )
    return question, length - per_day * days


def groups_of_groups(rng: random.Random) -> tuple[str, int]:
    """Groups of items: boxes of packs of things."""
    name, _, _ = rng.choice(PEOPLE)
    boxes, packs, each = rng.randint(2, 12), rng.randint(2, 8), rng.randint(2, 12)
    things = rng.choice(THINGS)
    question = (
        f"{name} orders {boxes} boxes of {things}. Each box holds {packs} packs, and each pack "
        f"has {each} {things}. How many {things} does {name} order in all?"
    )
    return question, boxes * packs * each


def gives_then_buys(rng: random.Random) -> tuple[str, int]:
    """Before and after: give some away, then get more."""
    (name, he, _), (friend, _, _) = _two_people(rng)
    start = rng.randint(10, 80)
    given, bought = rng.randint(1, start), rng.randint(1, 40)
    things = rng.choice(THINGS)
    question = (
        f"{name} has {start} {things}. {he.capitalize()} gives {given} of them to {friend} and "
        f"then buys {bought} more. How many {things} does {name} have now?"
    )
    return question, start - given + bought


def how_many_more(rng: random.Random) -> tuple[str, int]:
    """Comparison: k times as many, then the difference."""
    (name, _, _), (friend, _, _) = _two_people(rng)
    count, times = rng.randint(3, 40), rng.randint(2, 6)
    things = rng.choice(THINGS)
    question = (
        f"{name} has {count} {things}. {friend} has {times} times as many {things} as {name}. "
        f"How many more {things} does {friend} have than {name}?"
    )
    return question, count * (times - 1)


def age_years_ago(rng: random.Random) -> tuple[str, int]:
    """Ages: a multiple of an age, then back in time."""
    name, _, his = rng.choice(PEOPLE)
    age, times = rng.randint(5, 16), rng.randint(2, 5)
    ago = rng.randint(1, min(age * times - 1, 30))
    relative = rng.choice(RELATIVES)
    question = (
        f"{name} is {age} years old, and {his} {relative} is {times} times as old as {name}. "
        f"How old was {name}'s {relative} {ago} years ago?"
    )
    return question, age * times - ago


def savings_after_a_purchase(rng: random.Random) -> tuple[str, int]:
    """Money over time: weekly savings minus a purchase."""
    name, he, _ = rng.choice(PEOPLE)
    weekly, weeks = rng.randint(3, 25), rng.randint(2, 12)
    price = rng.randint(1, weekly * weeks)
    item = rng.choice(ITEMS)
    question = (
        f"{name} saves ${weekly} every week for {weeks} weeks. Then {he} spends ${price} on a "
        f"{item}. How many dollars does {name} have left?"
    )
    return question, weekly * weeks - price


def scaled_recipe(rng: random.Random) -> tuple[str, int]:
    """Proportion: a recipe scaled up by a whole factor."""
    name, _, _ = rng.choice(PEOPLE)
    batch, cups, factor = rng.randint(6, 24), rng.randint(1, 5), rng.randint(2, 6)
    baked = rng.choice(BAKED)
    question = (
        f"{name}'s recipe makes {batch} {baked} with {cups} cups of flour. "
        f"How many cups of flour does {name} need to make {batch * factor} {baked}?"
    )
    return question, cups * factor


def two_legs_of_a_trip(rng: random.Random) -> tuple[str, int]:
    """Rate x time twice, then the sum."""
    name, _, _ = rng.choice(PEOPLE)
    vehicle = rng.choice(VEHICLES)
    fast, fast_hours = rng.randint(40, 120), rng.randint(1, 5)
    slow, slow_hours = rng.randint(10, 60), rng.randint(1, 4)
    question = (
        f"{name} takes a {vehicle} that goes {fast} kilometres per hour for {fast_hours} hours, "
        f"then {slow} kilometres per hour for {slow_hours} hours. "
        f"How many kilometres does {name} travel?"
    )
    return question, fast * fast_hours + slow * slow_hours


def price_after_discount(rng: random.Random) -> tuple[str, int]:
    """Percentages: a whole-dollar price after a discount (prices in twenties, so no cents)."""
    name, _, _ = rng.choice(PEOPLE)
    price, percent = 20 * rng.randint(1, 25), 5 * rng.randint(1, 15)
    item = rng.choice(ITEMS)
    question = (
        f"A {item} costs ${price}. {name} buys it in a sale with {percent}% off. "
        f"How many dollars does {name} pay?"
    )
    return question, price * (100 - percent) // 100


TEMPLATES: tuple[Template, ...] = (
    change_from_a_bill,
    earnings_from_sales,
    sharing_equally,
    distance_at_a_rate,
    pages_left,
    groups_of_groups,
    gives_then_buys,
    how_many_more,
    age_years_ago,
    savings_after_a_purchase,
    scaled_recipe,
    two_legs_of_a_trip,
    price_after_discount,
)
