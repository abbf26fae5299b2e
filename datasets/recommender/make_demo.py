"""Write the recommender demo data: a fictional bookshop's catalogue and its readers' clicks.

Lantern Street Books sells ~180 titles in 12 shelves, each shelf split into subjects. Readers
have two or three favourite subjects (often on different shelves), so the text of what they
took carries the signal: a reader of sourdough books clicks the fermentation titles too.

Run from the repo root (output is reproducible, seed 7):

    python datasets/recommender/make_demo.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
START = 1_735_689_600  # 2025-01-01 00:00 UTC
DAY = 86_400

# shelf -> subject -> (what the books cover, titles)
CATALOGUE: dict[str, dict[str, tuple[str, list[str]]]] = {
    "Cooking": {
        "baking": ("sourdough starters, laminated doughs and slow-proved bread", [
            "The Patient Loaf", "Crumb and Crust", "Flour, Water, Salt, Time",
            "Weekend Sourdough", "The Rye Notebook", "Morning Buns and Other Rises"]),
        "fermentation": ("kimchi, miso, kombucha and lacto-fermented vegetables", [
            "The Living Pantry", "Brine and Patience", "Koji at Home",
            "Small Batch Ferments", "The Crock on the Counter"]),
        "italian": ("regional Italian home cooking, fresh pasta and slow sauces", [
            "A Sunday Ragù", "Pasta by Hand", "The Ligurian Kitchen",
            "Nonna's Tuesday Suppers", "Risotto Weather"]),
    },
    "Gardening": {
        "vegetables": ("raised beds, crop rotation and growing food in small plots", [
            "The Kitchen Garden Year", "Beans on a Balcony", "No-Dig Beds",
            "Seed to Supper", "The Allotment Diaries"]),
        "houseplants": ("light, watering and repotting for plants kept indoors", [
            "Green Rooms", "The Fern Whisperer", "Windowsill Jungle",
            "Leaves in Low Light", "Repot Without Fear"]),
        "wild": ("meadows, hedgerows and gardens that feed bees and birds", [
            "The Untidy Garden", "Hedgerow Notes", "A Meadow in a Window Box",
            "Gardening for Moths", "Ponds for Everyone"]),
    },
    "Astronomy": {
        "stargazing": ("naked-eye sky watching, star charts and first telescopes", [
            "Looking Up Tonight", "The Backyard Observer", "Seasons of the Sky",
            "Binocular Astronomy", "Dark Skies Handbook", "Finding the Planets"]),
        "cosmology": ("the big bang, dark matter and how the universe took shape", [
            "The Shape of Everything", "Before the First Star", "Dark Matter Explained",
            "The Expanding Question", "Light from the Edge"]),
        "spaceflight": ("rockets, orbital mechanics and the history of crewed missions", [
            "Escape Velocity", "The Apollo Engineers", "Living in Orbit",
            "Rockets for the Curious", "Mission Control Stories"]),
    },
    "History": {
        "ancient": ("Rome, Greece, Egypt and the daily life of ancient cities", [
            "A Day in Pompeii", "The Roads to Rome", "Scribes of the Nile",
            "Athens After Dark", "The Bronze Age Collapse"]),
        "maritime": ("sailing ships, trade routes, navigators and lost voyages", [
            "Salt and Sail", "The Longitude Men", "Harbours of the Hanseatic League",
            "Ships that Never Came Home", "The Spice Route Ledger"]),
        "modern": ("the twentieth century, its wars, revolutions and rebuilding", [
            "The Short Century", "Rationing and Resilience", "The Wall Comes Down",
            "Cities Rebuilt", "The Telegraph Girls"]),
    },
    "Crime Fiction": {
        "cosy": ("village mysteries, amateur sleuths and poisoned tea parties", [
            "Murder at the Flower Show", "The Vicar's Last Scone", "Death by Crossword",
            "A Body in the Bookshop", "The Parish Council Poisonings"]),
        "noir": ("hard-boiled detectives, rain-soaked cities and moral grey zones", [
            "Neon and Gin", "The Long Night Shift", "Blood on Harbour Street",
            "A Quiet Kind of Corruption", "The Last Honest Cop"]),
        "procedural": ("police investigations, forensics and the slow work of evidence", [
            "The Evidence Room", "Chain of Custody", "Cold Case Unit",
            "Fingerprints in Frost", "The Interview"]),
    },
    "Fantasy": {
        "epic": ("sprawling quests, warring kingdoms, dragons and ancient magic", [
            "The Ember Throne", "Crown of Ash", "The Dragon's Cartographer",
            "Song of the Nine Realms", "The Wintergate Saga", "Heirs of the Broken Sword"]),
        "urban": ("magic hidden in modern cities, fae bargains and witch detectives", [
            "Hex and the City", "The Underground Court", "Spells After Midnight",
            "The Fae of Platform Nine", "Coffee, Curses and Cats"]),
        "fairy": ("retold fairy tales, folklore and stories told by the fire", [
            "The Glass Slipper Reconsidered", "Tales from the Birch Wood",
            "The Goose Girl Returns", "Midwinter Folk Tales", "The Tinderbox Retold"]),
    },
    "Programming": {
        "python": ("Python for beginners, data analysis, testing and clean code", [
            "Python from Scratch", "Tidy Data with Python", "Testing Python Code",
            "Automate the Boring Office", "Pythonic Patterns"]),
        "web": ("building websites, HTML, CSS, JavaScript and web accessibility", [
            "The Accessible Web", "CSS Layouts that Last", "JavaScript in Practice",
            "Your First Web App", "Fast Pages"]),
        "ml": ("machine learning, neural networks and working with real datasets", [
            "Learning from Data", "Neural Networks Gently", "Features Matter",
            "Practical Text Classification", "Models in Production"]),
    },
    "Personal Finance": {
        "investing": ("index funds, pensions, compound interest and long-term saving", [
            "The Boring Portfolio", "Compound Interest for Everyone", "Index Funds Explained",
            "Your Pension, Demystified", "Slow Money"]),
        "budgeting": ("household budgets, paying off debt and spending with intention", [
            "The Envelope Method", "Debt-Free by Spring", "Frugal but Happy",
            "The Spending Diary", "Money for Students"]),
        "business": ("starting a small business, freelancing and bookkeeping", [
            "Open for Business", "The Freelancer's Ledger", "Pricing Your Work",
            "From Market Stall to Shop", "Bookkeeping Without Tears"]),
    },
    "Travel": {
        "walking": ("long-distance footpaths, pilgrim trails and walking holidays", [
            "The Camino in Spring", "Coast Path Days", "Walking the Highlands",
            "One Hundred Miles of Hedgerow", "Pilgrim Roads of Europe"]),
        "rail": ("slow travel by train across continents and night sleepers", [
            "Sleeper Train to the South", "The Trans-Siberian Notebook",
            "Europe by Rail", "Branch Lines Forgotten", "Window Seat"]),
        "islands": ("islands, ferries, remote coasts and the people who live there", [
            "Ferry Timetables", "The Outer Isles", "Island Winters",
            "Lighthouses of the North Sea", "Small Islands, Big Skies"]),
    },
    "Poetry": {
        "nature_poems": ("poems about seasons, rivers, birds and weather", [
            "Rain on the Estuary", "A Year of Blackbirds", "Frost Lines",
            "The River Poems", "Wildflower Verses"]),
        "city_poems": ("poems of city streets, night buses, cafés and crowds", [
            "Night Bus Sonnets", "Concrete Psalms", "The Café Window",
            "Rush Hour Hymns", "Lamplight Verses"]),
    },
    "Outdoors": {
        "climbing": ("rock climbing, bouldering, ropework and mountain safety", [
            "Ropes and Reason", "The Bouldering Book", "First Multi-Pitch",
            "Granite Days", "Knots You Will Use"]),
        "camping": ("wild camping, lightweight gear and cooking on a stove", [
            "Sleeping Under Stars", "The Lightweight Pack", "Stove-Top Suppers",
            "Wild Camping Ethics", "Tents in the Rain"]),
        "paddling": ("kayaking, canoe journeys and reading rivers and tides", [
            "Paddle Strokes", "Canoe Country", "Reading the River",
            "Sea Kayak Coasts", "The Open Canoe"]),
    },
    "Music": {
        "guitar": ("learning guitar, chords, fingerpicking and songwriting", [
            "Three Chords and the Truth", "Fingerpicking Folk", "The Songwriter's Notebook",
            "Blues Guitar Basics", "Practice Makes Music"]),
        "classical": ("composers, symphonies, opera and how to listen to them", [
            "How to Listen to a Symphony", "The Opera Companion", "Bach for Beginners",
            "The Lives of the Composers", "Chamber Music Evenings"]),
        "jazz": ("jazz history, improvisation and the great recordings", [
            "Blue Notes", "The Improviser's Ear", "Fifty Jazz Records",
            "Swing Era Stories", "Late Sets and Early Mornings"]),
    },
}

OPENINGS = [
    "A practical guide to {topic}.", "An illustrated introduction to {topic}.",
    "Warm, funny and deeply researched: a book about {topic}.",
    "Everything a beginner needs to know about {topic}.",
    "A celebrated author's take on {topic}.", "Short chapters on {topic} for busy readers.",
]
CLOSINGS = [
    "Includes a reading list and an index.", "With photographs and hand-drawn diagrams.",
    "A staff favourite at Lantern Street.", "Paperback, 240 pages.",
    "Perfect as a gift.", "Now in a revised second edition.", "",
]


def build_items(rng: random.Random) -> list[dict]:
    """One row per title: ``item_id,title,description,category,subject``."""
    rows = []
    for category, subjects in CATALOGUE.items():
        for subject, (topic, titles) in subjects.items():
            for title in titles:
                text = f"{rng.choice(OPENINGS).format(topic=topic)} {rng.choice(CLOSINGS)}"
                rows.append({"item_id": f"B{len(rows) + 1:03d}", "title": title,
                             "description": text.strip(), "category": category,
                             "subject": subject})
    return rows


def build_interactions(items: list[dict], rng: random.Random, n_users: int = 60) -> list[dict]:
    """Impressions over 120 days; a reader clicks mostly within their favourite subjects."""
    subjects = sorted({item["subject"] for item in items})
    popular = {item["item_id"] for item in rng.sample(items, 25)}
    rows = []
    for u in range(1, n_users + 1):
        likes = set(rng.sample(subjects, rng.choice([2, 2, 3])))
        liked_shelves = {i["category"] for i in items if i["subject"] in likes}
        t = START + rng.randrange(0, 20 * DAY)
        for _ in range(rng.randrange(18, 42)):
            # subtle: half the impressions are already targeted, like a real shop's front page
            pool = [i for i in items if i["subject"] in likes] if rng.random() < 0.5 else items
            item = rng.choice(pool)
            p = 0.75 if item["subject"] in likes else 0.12 if item["category"] in liked_shelves \
                else 0.04
            p = min(0.95, p + (0.1 if item["item_id"] in popular else 0.0))
            t += rng.randrange(DAY // 4, 4 * DAY)
            rows.append({"user_id": f"U{u:03d}", "item_id": item["item_id"],
                         "label": int(rng.random() < p), "timestamp": t})
    # one impression per (user, item): keep the first, so the file has no duplicate rows
    seen, unique = set(), []
    for row in rows:
        if (row["user_id"], row["item_id"]) not in seen:
            seen.add((row["user_id"], row["item_id"]))
            unique.append(row)
    return unique


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(7)
    items = build_items(rng)
    interactions = build_interactions(items, rng)
    write_csv(HERE / "items.csv", items, ["item_id", "title", "description", "category"])
    write_csv(HERE / "interactions.csv", interactions,
              ["user_id", "item_id", "label", "timestamp"])
    users = sorted({r["user_id"] for r in interactions})[:5]
    candidates = [{"user_id": u, "item_id": i["item_id"]} for u in users for i in items[::9]]
    write_csv(HERE / "candidates.csv", candidates, ["user_id", "item_id"])
    print(f"{len(items)} items, {len(interactions)} interactions, {len(candidates)} candidates")


if __name__ == "__main__":
    main()
