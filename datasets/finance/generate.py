"""Write the finance demo data: labelled headlines and a replayable stream with a negative surge.

Every sentence here is written for this project from the templates below (fictional companies,
fictional numbers); nothing is copied from a public dataset. Deterministic (seeded), so running
it again reproduces the committed CSVs byte for byte::

    python datasets/finance/generate.py
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent

COMPANIES = [
    ("Northwind Bank", "NWB"), ("Helios Energy", "HLX"), ("Corvid Pharma", "CRVD"),
    ("Atlas Motors", "ATLM"), ("Quanta Chips", "QNTC"), ("Bluefin Foods", "BLFN"),
    ("Vesta Telecom", "VSTA"), ("Orion Airlines", "ORAL"), ("Granite Mining", "GRNM"),
    ("Lumen Retail", "LMNR"), ("Cobalt Insurance", "CBLT"), ("Pioneer Rail", "PNRL"),
]

# topic -> sentiment -> templates. {co} company, {tk} ticker, {n} small number, {p} percent.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "Earnings": {
        "positive": [
            "{co} quarterly profit jumps {p}% and beats analyst estimates",
            "$" + "{tk} raises full-year guidance after record revenue",
            "{co} reports operating margin up {p}% on strong demand",
            "{co} net income rises to {n} million, ahead of forecasts",
        ],
        "negative": [
            "{co} swings to a loss as revenue falls {p}%",
            "$" + "{tk} cuts profit outlook after weak quarter",
            "{co} misses earnings estimates and warns on margins",
            "{co} operating profit drops to {n} million from a year earlier",
        ],
        "neutral": [
            "{co} will publish third-quarter results on Thursday",
            "$" + "{tk} earnings call scheduled for {n} a.m. Eastern",
            "{co} reports quarterly revenue in line with its earlier statement",
            "{co} to present half-year figures at its investor day",
        ],
    },
    "M&A | Investments": {
        "positive": [
            "{co} agrees to buy rival in deal that lifts its shares {p}%",
            "$" + "{tk} wins takeover approval, unlocking expected savings",
            "{co} secures {n} million investment to expand production",
            "Investors cheer {co} acquisition as accretive from year one",
        ],
        "negative": [
            "{co} takeover bid collapses after financing falls through",
            "$" + "{tk} writes down {n} million on failed acquisition",
            "{co} abandons merger, shares slide {p}%",
            "Regulators block {co} deal, ending its expansion plan",
        ],
        "neutral": [
            "{co} confirms it is in talks about a possible acquisition",
            "$" + "{tk} completes previously announced purchase of a minority stake",
            "{co} hires advisers to review strategic options",
            "{co} says the sale of its logistics unit closed as planned",
        ],
    },
    "Macro": {
        "positive": [
            "Factory orders in {rg} rise {p}% as demand recovers",
            "Unemployment in {rg} falls to a {n}-year low, boosting consumer outlook",
            "{rg} retail sales beat expectations for a {n}th straight month",
            "Inflation in {rg} cools faster than expected, easing pressure on households",
        ],
        "negative": [
            "{rg} economy contracts {p}% as exports slump",
            "Consumer confidence in {rg} plunges to its lowest level in {n} years",
            "Jobless claims in {rg} surge as layoffs spread across industries",
            "Inflation in {rg} accelerates again, squeezing real wages",
        ],
        "neutral": [
            "{rg} statistics office publishes monthly trade figures",
            "Central bank of {rg} keeps interest rate unchanged at {p}%",
            "Economists expect {rg} growth of about {p}% next year",
            "{rg} government releases revised estimates for second-quarter output",
        ],
    },
    "Legal | Regulation": {
        "positive": [
            "{co} wins appeal, court overturns {n} million fine",
            "$" + "{tk} settles dispute on favourable terms, lifting shares",
            "Regulator clears {co} of wrongdoing after review",
            "{co} receives licence approval ahead of schedule",
        ],
        "negative": [
            "{co} faces regulator probe over accounting irregularities",
            "$" + "{tk} hit with {n} million fine for misleading customers",
            "Prosecutors open fraud investigation into {co} executives",
            "{co} sued by investors over undisclosed losses",
        ],
        "neutral": [
            "{co} says it is cooperating with a routine regulatory review",
            "$" + "{tk} files annual compliance report with the regulator",
            "Court sets hearing date in {co} patent case",
            "New disclosure rules for {rg} listed companies take effect in {n} months",
        ],
    },
    "Energy | Oil": {
        "positive": [
            "{co} output climbs {p}% as new wells come online",
            "$" + "{tk} gains after discovering a large offshore field",
            "Oil producers in {rg} rally as crude climbs {p}%",
            "{co} renewable unit doubles capacity, beating targets",
        ],
        "negative": [
            "{co} halts refinery after fire, cutting output {p}%",
            "$" + "{tk} slumps as crude prices fall to a {n}-month low",
            "Pipeline leak forces {co} to shut production",
            "{co} takes {n} million charge on stranded gas assets",
        ],
        "neutral": [
            "{co} publishes monthly production report",
            "$" + "{tk} keeps drilling budget unchanged for next year",
            "Oil ministers meet in {rg} to discuss output quotas",
            "{co} schedules maintenance at its northern refinery",
        ],
    },
    "Personnel Change": {
        "positive": [
            "{co} names respected industry veteran as chief executive",
            "$" + "{tk} shares rise after star finance chief joins",
            "{co} strengthens board with experienced independent directors",
            "Investors welcome {co} appointment of turnaround specialist",
        ],
        "negative": [
            "{co} chief executive resigns abruptly amid board dispute",
            "$" + "{tk} finance chief quits, shares fall {p}%",
            "{co} ousts founder after failed strategy",
            "Top managers leave {co} in wave of departures",
        ],
        "neutral": [
            "{co} appoints new head of investor relations",
            "$" + "{tk} announces planned retirement of its chair next year",
            "{co} names interim finance chief while search continues",
            "{co} board reelects all directors at annual meeting",
        ],
    },
}

REGIONS = ["Norland", "Estmark", "Valdoria", "Kestria", "Marovia", "Sunmere", "Tarsland",
           "Ostrava Bay", "Lindholm", "Corvassa", "Pellmar", "Quenford", "Aldermoor", "Riva Sol",
           "Brantis", "Hollowmere"]

SURGE_HEADLINES = [
    "Northwind Bank faces regulator probe over hidden loan losses",
    "$NWB plunges as investigators raid Northwind Bank headquarters",
    "Northwind Bank hit with record fine over money laundering failures",
    "Prosecutors widen fraud investigation into Northwind Bank managers",
    "Northwind Bank sued by depositors over misleading statements",
    "$NWB shares slump as regulator freezes Northwind dividend",
    "Auditor resigns from Northwind Bank citing unreliable accounts",
    "Northwind Bank customers file class action over hidden fees",
    "Ratings agency downgrades Northwind Bank to junk on probe fears",
    "$NWB bondholders demand answers as Northwind losses mount",
    "Northwind Bank chair steps down as accounting scandal deepens",
    "Regulator bars Northwind Bank from opening new accounts",
    "Northwind Bank admits loan book errors, restates three years of results",
    "$NWB suspended from trading pending Northwind disclosure",
    "Depositors pull funds from Northwind Bank as scandal spreads",
    "Northwind Bank faces second lawsuit from pension funds",
    "Whistleblower says Northwind Bank managers hid bad loans for years",
    "Central bank orders emergency review of Northwind Bank capital",
    "$NWB options show heavy bets on further Northwind losses",
    "Northwind Bank fined again as inspectors find fresh breaches",
]

# the same surge stories told by the other outlet in other words: few shared words, so ingest
# stores them, and the monitor merges them after classification (``rewordings``)
PARAPHRASES = {
    "Northwind Bank chair steps down as accounting scandal deepens":
        "Northwind Bank chairman resigns as accounting scandal deepens",
    "Ratings agency downgrades Northwind Bank to junk on probe fears":
        "Northwind Bank cut to junk by ratings agency over probe fears",
    "Auditor resigns from Northwind Bank citing unreliable accounts":
        "Northwind Bank's auditor quits, citing unreliable accounts",
}


def fill(template: str, rng: random.Random, used: set | None = None) -> str:
    """Fill one template with a random company and region.

    With ``used``, each (template, company, region) is used once, so no two stream stories
    are the same story by accident.
    """
    for _ in range(200):
        company, region = rng.choice(COMPANIES), rng.choice(REGIONS)
        key = (template, company if "{co}" in template or "{tk}" in template else None,
               region if "{rg}" in template else None)
        if used is None or key not in used:
            break
    if used is not None:
        used.add(key)
    return template.format(co=company[0], tk=company[1], rg=region, n=rng.randint(2, 90),
                           p=rng.randint(2, 35))


def labelled(rng: random.Random, per_template: int) -> list[dict[str, str]]:
    """Rows ``text,sentiment,topic``, ``per_template`` fills of every template, shuffled."""
    rows, seen = [], set()
    for topic, by_sentiment in TEMPLATES.items():
        for sentiment, templates in by_sentiment.items():
            for template in templates:
                for _ in range(per_template):
                    text = fill(template, rng)
                    if text not in seen:
                        seen.add(text)
                        rows.append({"text": text, "sentiment": sentiment, "topic": topic})
    rng.shuffle(rows)
    return rows


def stream(rng: random.Random, days: int = 5, per_hour: float = 3.0) -> list[dict[str, str]]:
    """A timestamped headline stream with one negative surge on day 4 (Northwind Bank probe)."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    rows, used = [], set()
    for hour in range(days * 24):
        for _ in range(poisson(rng, per_hour)):
            topic = rng.choice(list(TEMPLATES))
            sentiment = rng.choices(["neutral", "positive", "negative"], [0.5, 0.27, 0.23])[0]
            text = fill(rng.choice(TEMPLATES[topic][sentiment]), rng, used)
            at = start + timedelta(hours=hour, seconds=rng.randint(0, 3599))
            rows.append(row(at, text, sentiment, topic, rng))
            if rng.random() < 0.06:  # the same story, reworded by the other outlet
                later = at + timedelta(minutes=rng.randint(3, 40))
                rows.append(row(later, f"Report: {text}, sources say", sentiment, topic, rng))
    surge_start = start + timedelta(days=3, hours=9)
    for text in SURGE_HEADLINES:  # the surge: 20 negative stories about one bank in 6 hours
        at = surge_start + timedelta(seconds=rng.randint(0, 6 * 3600 - 1))
        rows.append(row(at, text, "negative", "Legal | Regulation", rng))
    other = random.Random(4)  # its own draws: the rows above stay as they were
    for told in [r for r in rows if r["title"] in PARAPHRASES]:
        later = datetime.fromisoformat(told["published"]) + timedelta(minutes=other.randint(5, 40))
        rows.append({**told, "published": later.isoformat(), "title": PARAPHRASES[told["title"]],
                     "summary": "", "outlet": "daily" if told["outlet"] == "wire" else "wire"})
    rows.sort(key=lambda r: r["published"])
    for i, r in enumerate(rows):
        r["id"] = f"s{i:04d}"
    return rows


def row(at: datetime, text: str, sentiment: str, topic: str, rng: random.Random) -> dict:
    """One stream row; the outlet alternates so each feed carries part of the stream."""
    outlet = rng.choice(["wire", "daily"])
    summary = f"{text}. The company did not comment further." if rng.random() < 0.3 else ""
    return {"id": "", "published": at.isoformat(), "outlet": outlet, "title": text,
            "summary": summary, "sentiment": sentiment, "topic": topic}


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's Poisson sampler (small lambda)."""
    import math

    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    write(HERE / "train.csv", labelled(random.Random(1), per_template=3))
    write(HERE / "test.csv", labelled(random.Random(2), per_template=1))
    write(HERE / "stream.csv", stream(random.Random(3)))
    write(HERE / "companies.csv", [{"ticker": t, "name": n} for n, t in COMPANIES])


if __name__ == "__main__":
    main()
