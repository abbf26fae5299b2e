"""Recommender benchmark on public data (../shared/datasets); prints tables, asserts nothing.

1. MovieLens latest-small, leave-last-out: each user's last liked movie is the test target,
   everything before it trains; ranked as plain leave-last-out does (item statistics over the
   whole remaining log) and as of each user's last take (from what came before it). nDCG@10 /
   MRR / HR@10 / AUC of the full pipeline beside popularity and untuned-MiniLM baselines
   (target: nDCG@10 >= 1.2x both baselines), and co-taken alone (the ranker's collaborative
   feature) to show what the text adds to it.
2. TALLRec movie / book CTR: fine-tune the interest scorer on one half of each valid.json, AUC
   on the other half (targets: movie >= 0.75, book >= 0.68; untuned MiniLM ~0.57 / 0.59). The
   movie scorer starts from one taught TALLRec-style questions built from MovieLens latest-small
   (`ml-ctr`: other users than TALLRec's MovieLens-100K); no book corpus ships, so book starts
   from MiniLM.
3. Throughput on this machine, real MovieLens texts through the models as served: bi-encoder
   scores per minute, cross-encoder pairs per second.

    python benchmarks/recommender.py --quick            # minutes on 2 cores
    python benchmarks/recommender.py --only tallrec     # one part
    python benchmarks/recommender.py --only movielens --only throughput \
        --cross-layers 6 --cross-attention both --home /tmp/ml-both/home   # the whole-pair reader
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets"
CANDIDATES = 40  # pairs per profile in a top-10 batch job (4 x 10 candidates)


def leave_last_out(interactions, users: list[str]):
    """(train, test): each user's last positive is the test row; earlier rows train."""
    taken = interactions[interactions["label"] == 1].sort_values(["user_id", "timestamp"])
    last = taken.groupby("user_id").tail(1)
    last = last[last["user_id"].isin(set(users))]
    cut = dict(zip(last["user_id"], last["timestamp"]))
    keep = interactions["user_id"].map(cut)
    train = interactions[keep.isna() | (interactions["timestamp"] < keep)]
    return train, last


def movielens(quick: bool, work: Path, cross_layers: int = 2,
              cross_max_length: int = 128, cross_attention: str = "one-way", n_users: int | None = None) -> dict:
    from apps.recommender.evaluation import evaluate_ranking
    from apps.recommender.layouts import load_movielens
    from apps.recommender.scoring import TextConfig
    from apps.recommender.service import RecommenderService
    from apps.recommender.training import TrainConfig
    from shared import file_digest, fingerprint

    items, interactions = load_movielens(DATA / "movielens_latest_small")
    users = sorted(interactions["user_id"].unique())
    test_users = random.Random(0).sample(users, n_users) if n_users and n_users < len(users) else users
    train, test = leave_last_out(interactions, test_users)
    items.drop(columns=["text"]).to_csv(work / "ml_items.csv", index=False)
    train.to_csv(work / "ml_train.csv", index=False)
    service = RecommenderService(work / "ml_items.csv", work / "ml_train.csv", prefix="ml")
    size = 1500 if quick else 6000
    start = time.perf_counter()
    digest = fingerprint([file_digest(work / "ml_items.csv"), file_digest(work / "ml_train.csv")])
    config = TrainConfig(prefix="ml", text=TextConfig(
        bi_max_length=96, cross_max_length=cross_max_length, cross_layers=cross_layers,
        cross_attention=cross_attention, max_pairs=size, max_cross=size, batch_size=32))
    registry = service.registry
    if service.is_trained() and service.ranker_card()["data_fingerprint"] == digest:
        trained = {"reused": service.ranker_card()["version"]}  # same split, same --home
    elif registry.current("ml-biencoder") and registry.current("ml-interest"):
        # a rerun with the same --home after an interrupted ranker fit: keep the text models
        trained = service.fit_ranker(f"ml-biencoder@{registry.current('ml-biencoder')}",
                                     f"ml-interest@{registry.current('ml-interest')}", config)
    else:
        trained = service.train(config)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    n_candidates = 30 if quick else 50
    result = evaluate_ranking(service.pipeline(), test, n_candidates=n_candidates)
    result.update(train_seconds=train_s, eval_seconds=time.perf_counter() - start,
                  ranker_coef=service.ranker_card()["params"]["coef"], models=trained)
    start = time.perf_counter()
    result["as_of"] = as_of_ranking(service.pipeline(), test, n_candidates)
    result["as_of"]["seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    result["pool"] = pool_recall(service.pipeline(), [u for u in test_users if u in service.pipeline().taken][:100])
    result["pool"]["seconds"] = time.perf_counter() - start
    return result


def as_of_ranking(pipe, test, n_candidates: int, groups: int = 20) -> dict:
    """Leave-last-out as each user's last take found things: the users in ``groups`` groups by
    when they took their test item, each ranked by the pipeline as of the group's first such
    time (``Pipeline.as_of``: popularity, recency and co-taken from what everyone did before it,
    the user's own history whole).

    subtle: plain leave-last-out counts items together over everyone's whole log, so a user's
    test item in 2000 is scored with who took it beside their recent items up to 2018. The
    ranker learns its weights as of the time (its training lists are built so), and serving
    only ever has the past; co-taken alone gains most from the future (on 607 users 0.0569
    with it, 0.0446 without)."""
    import numpy as np

    from apps.recommender.evaluation import ranking_metrics, system_rankings, test_targets
    from shared import get_embedder

    users, relevant = test_targets(pipe, test)
    groups = min(groups, len(users))
    target = dict(zip(users, relevant))
    when = test.groupby("user_id")["timestamp"].min().to_dict()
    log = pipe.interactions
    vectors = get_embedder("minilm").encode(list(pipe.items["text"]))
    ranked, order = {}, []
    for group in np.array_split(np.array(sorted(users, key=lambda u: (when[u], u)), dtype=object), groups):
        group = list(group)
        at = pipe.as_of(log[log["user_id"].isin(set(group))], log[log["timestamp"] < when[group[0]]])
        for name, lists in system_rankings(at, group, 10, n_candidates, vectors).items():
            ranked.setdefault(name, []).extend(lists)
        order += group
    out = {name: ranking_metrics(lists, [target[u] for u in order], 10) for name, lists in ranked.items()}
    return out | {"users": len(order), "groups": groups}


def pool_recall(pipe, users: list[str], k: int = 10) -> dict:
    """How much of each user's whole-catalogue top-``k`` a ``--top-k`` job (the default pool of
    ``4k``) returns. The whole catalogue's top-``k`` is found exactly without scoring all of it:
    items come in the order of the ranker's score less the cross-encoder's term
    (``Pipeline.prior_logits``), and that term adds at most ``lift`` (its weight times the
    largest P(interest), 1, standardised), so once the next item's prior plus ``lift`` is below
    the ``k``-th full score nothing further can enter. The lists compared are by score: the
    pool's reach, before a top-k keeps the user's tastes in proportion (``Pipeline.balanced``)."""
    import numpy as np

    from apps.recommender.pipeline import rank

    ranker = pipe.ranker
    at = ranker.features.index("cross_score") if "cross_score" in ranker.features else None
    lift = 0.0 if at is None else ranker.coef[at] * (1 - ranker.mean[at]) / ranker.scale[at]
    kept, pipe.balance = pipe.balance, 0.0
    try:
        vectors = pipe.profile_vectors(users)
        served = pipe.top_k(users, k).groupby("user_id")["item_id"].agg(set).to_dict()
        found, scored = [], []
        for user in users:
            seen = pipe.seen.get(user, set())
            vector = vectors.get(user)
            order = pipe.by_prior(user, [i for i in pipe.ids if i not in seen], vector)
            size = 4 * k
            while True:
                best = rank(pipe.score_pairs([user] * min(size, len(order)), order[:size], vectors), k)
                kth = ranker.logits(best[ranker.features].to_numpy())[-1]
                if size >= len(order) or pipe.prior_logits(user, vector, [pipe.row[order[size]]])[0] + lift < kth:
                    break
                size *= 2
            found.append(len(served[user] & set(best["item_id"])) / len(best))
            scored.append(min(size, len(order)))
    finally:
        pipe.balance = kept
    return {"users": len(users), "k": k, "pool": max(4 * k, 10), "recall": float(np.mean(found)),
            "all_found": float(np.mean([f == 1.0 for f in found])),
            "exact_pool_median": float(np.median(scored)), "exact_pool_max": int(max(scored))}


def movielens_ctr_base(quick: bool) -> str:
    """The interest scorer taught TALLRec-style questions built from MovieLens latest-small
    (other users than TALLRec's MovieLens-100K), registered as ``ml-ctr``; reused if present."""
    from apps.recommender.layouts import load_movielens
    from apps.recommender.profiles import ctr_examples
    from apps.recommender.scoring import train_ctr_scorer
    from shared import get_registry

    if get_registry().current("ml-ctr"):
        return "ml-ctr"
    items, interactions = load_movielens(DATA / "movielens_latest_small")
    questions = ctr_examples(interactions, items, limit=1500 if quick else 8000)
    train_ctr_scorer(questions, "ml-ctr", test_fraction=0.1, epochs=1,
                     max_length=160 if quick else 192, batch_size=16)
    return "ml-ctr"


def tallrec(quick: bool, domains: list[str]) -> dict:
    """Movie: the scorer starts from ``ml-ctr`` and the targets' like share and popularity among
    MovieLens latest-small users (other people than TALLRec's MovieLens-100K users) join the
    features. Book: from MiniLM, no outside log."""
    from apps.recommender.evaluation import evaluate_ctr
    from apps.recommender.features import title_priors
    from apps.recommender.layouts import load_movielens
    from apps.recommender.tallrec import load_tallrec

    out = {}
    bases = {"movie": movielens_ctr_base(quick) if "movie" in domains else "", "book": "minilm"}
    priors = {"movie": title_priors(*load_movielens(DATA / "movielens_latest_small"))
              if "movie" in domains else None, "book": None}
    for domain in domains:
        examples = load_tallrec(DATA / "tallrec_ctr" / domain / "valid.json")
        random.Random(0).shuffle(examples)
        half = len(examples) // 2
        train, test = examples[:half], examples[half:]
        if quick:
            train, test = train[:256], test[:300]
        start = time.perf_counter()
        out[domain] = evaluate_ctr(train, test, f"ctr-{domain}", base=bases[domain],
                                   epochs=2 if quick else 3, max_length=160 if quick else 256,
                                   priors=priors[domain])
        out[domain].update(seconds=time.perf_counter() - start, base=bases[domain])
    return out


def throughput(quick: bool) -> dict:
    """Batch-scoring speed of the MovieLens part's models as they serve (the fastest exported
    form that agreed with torch), on real MovieLens profiles and item texts. Untuned MiniLM and
    no cross-encoder when that part has not run with this --home.

    Bi-encoder scores per minute count what a nightly batch pays per user: encoding the profile
    and one matrix product with the whole catalogue (encoding the catalogue is paid once per
    catalogue and reported apart). Cross-encoder pairs per second are (profile, item) pairs at
    the model's own max length: each with its own profile, and as a batch job scores them,
    :data:`CANDIDATES` items for each of 12 profiles (a one-way model encodes each profile once)."""
    import numpy as np

    from apps.recommender.layouts import load_movielens
    from apps.recommender.profiles import sequential_examples
    from apps.recommender.scoring import TextScorer
    from shared import get_registry
    from shared.one_way import halves

    registry = get_registry()
    bi = f"ml-biencoder@{registry.current('ml-biencoder')}" if registry.current("ml-biencoder") \
        else "minilm"
    cross = f"ml-interest@{registry.current('ml-interest')}" if registry.current("ml-interest") \
        else None
    scorer = TextScorer(bi, cross)
    items, interactions = load_movielens(DATA / "movielens_latest_small")
    examples = sequential_examples(interactions, items)
    picked = np.random.default_rng(0).choice(len(examples), 128 if quick else 512, replace=False)
    profiles = [examples[i].profile for i in picked]
    text = dict(zip(items["item_id"], items["text"]))
    item_texts = [text[examples[i].item_id] for i in picked]
    scorer.embed(profiles[:8])  # warm up
    start = time.perf_counter()
    item_vecs = scorer.embed(list(items["text"]))
    items_s = time.perf_counter() - start
    start = time.perf_counter()  # one profile at a time, as the batch job embeds them (Pipeline.profile_vectors)
    user_vecs = np.stack([scorer.embed([profile])[0] for profile in profiles])
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    top = np.argpartition(-(user_vecs @ item_vecs.T), 10, axis=1)[:, :10]
    matmul_s = time.perf_counter() - start
    result = {"biencoder": bi, "biencoder_form": scorer._embedder.backend_name,
              "catalogue_items": len(items), "items_encoded_per_s": len(items) / items_s,
              "profiles_encoded_per_s": len(profiles) / encode_s,
              "biencoder_scores_per_min": len(profiles) * len(items) / (encode_s + matmul_s) * 60,
              "top_shape": list(top.shape)}
    if cross:
        scorer.interest(profiles[:8], item_texts[:8])  # warm up
        start = time.perf_counter()
        scorer.interest(profiles, item_texts)
        pairs_per_s = len(profiles) / (time.perf_counter() - start)
        # a batch job's shape: 12 users' profiles, each against 40 catalogue items, a user's pairs
        # scored together and apart from other users' (Pipeline._text_scores)
        candidates = list(np.random.default_rng(1).choice(items["text"], 12 * CANDIDATES))
        start = time.perf_counter()
        for u, profile in enumerate(profiles[:12]):
            scorer.interest([profile] * CANDIDATES, candidates[u * CANDIDATES:(u + 1) * CANDIDATES])
        shared_per_s = 12 * CANDIDATES / (time.perf_counter() - start)
        model = scorer._classifier
        if model.one_way:  # what a pair pays for: its item's tokens (the profile's once)
            lengths = [len(ids) for ids in halves(model.tokenizer, profiles, item_texts, model.max_length)[1]]
        else:
            lengths = [len(ids) for ids in model.tokenizer(profiles, item_texts, truncation=True,
                                                           max_length=model.max_length)["input_ids"]]
        result |= {"cross_encoder": cross, "cross_form": model.backend_name,
                   "cross_layers": model.card.get("params", {}).get("layers") or 6,
                   "cross_tokens_per_pair": float(np.mean(lengths)),
                   "cross_pairs_per_s": pairs_per_s,
                   f"cross_pairs_per_s_{CANDIDATES}_per_profile": shared_per_s}
        report = model.path / "export" / "report.json"
        if report.exists():
            result["cross_export_report"] = json.loads(report.read_text())
    return result


def table(results: dict) -> str:
    lines = []
    if "movielens" in results:
        ml = results["movielens"]
        lines += [f"MovieLens leave-last-out ({ml['users']} users)", "",
                  "| system | nDCG@10 | MRR | HR@10 | AUC |", "| --- | --- | --- | --- | --- |"]
        for system in ("model", "popularity", "minilm", "co_taken"):
            m = ml[system]
            lines.append(f"| {system} | {m['ndcg@10']:.4f} | {m['mrr']:.4f} | {m['hr@10']:.4f} "
                         f"| {m.get('auc', float('nan')):.4f} |")
        if "as_of" in ml:
            lines += ["", f"The same users as of each one's last take ({ml['as_of']['groups']} groups by its "
                      "time; item statistics from before it)", "",
                      "| system | nDCG@10 | MRR | HR@10 |", "| --- | --- | --- | --- |"]
            for system in ("model", "popularity", "minilm", "co_taken"):
                m = ml["as_of"][system]
                lines.append(f"| {system} | {m['ndcg@10']:.4f} | {m['mrr']:.4f} | {m['hr@10']:.4f} |")
        p = ml.get("pool")
        if p:
            lines += ["", f"`--top-k {p['k']}` with its default pool of {p['pool']}: {p['recall']:.1%} of the "
                      f"whole catalogue's top-{p['k']} found ({p['all_found']:.0%} of {p['users']} users "
                      f"get all of it); proving each user's top-{p['k']} exact took a pool of "
                      f"{p['exact_pool_median']:.0f} (median), {p['exact_pool_max']} (max)"]
        lines.append("")
    if "tallrec" in results:
        lines += ["TALLRec CTR (train on half of valid.json, test on the other half)", "",
                  "| domain | start model | train | test | AUC stack (target) | text scorer alone "
                  "| features alone | untuned MiniLM | TALLRec LLaMA-7B, 256 ex. (their test set) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        targets, published = {"movie": 0.75, "book": 0.68}, {"movie": 0.720, "book": 0.644}
        for domain, r in results["tallrec"].items():
            lines.append(f"| {domain} | {r.get('base', 'minilm')} | {r['train']} | {r['test']} "
                         f"| {r['auc']:.4f} ({targets[domain]}) "
                         f"| {r.get('text_auc', float('nan')):.4f} | {r.get('features_auc', float('nan')):.4f} "
                         f"| {r['minilm_auc']:.4f} | {published[domain]} |")
        lines += [f"- {domain}: {r['prior_coverage']:.0%} of test targets have a MovieLens "
                  "latest-small like share" for domain, r in results["tallrec"].items()
                  if "prior_coverage" in r]
        lines += ["- A random half split leaks: a user's later examples list earlier targets with "
                  "their answers. No feature here reads other examples' histories.", ""]
    if "throughput" in results:
        t = results["throughput"]
        lines += ["Throughput on real MovieLens texts, models as served "
                  "(targets: >= 1,000,000 bi-encoder scores/min, >= 400 cross-encoder pairs/s)",
                  ""] + [f"- {k}: {v:,.1f}" if isinstance(v, float) else f"- {k}: {v}"
                         for k, v in t.items() if k != "cross_export_report"]
        report = t.get("cross_export_report")
        if report:
            from shared.export import summary

            lines.append(f"- cross-encoder at export, on its check pairs: {summary(report)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="samples, fewer steps")
    parser.add_argument("--only", choices=["movielens", "tallrec", "throughput"], action="append")
    parser.add_argument("--domains", default="movie,book", help="TALLRec domains to run")
    parser.add_argument("--home", type=Path, help="VERTICALS_HOME for the models (default: temp); "
                        "a rerun with the same --home reuses the MovieLens models")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    parser.add_argument("--cross-layers", type=int, default=2,
                        help="MovieLens: keep MiniLM's first N layers in the cross-encoder (6: all)")
    parser.add_argument("--cross-max-length", type=int, default=128,
                        help="MovieLens: tokens the cross-encoder reads per pair (one-way: per side)")
    parser.add_argument("--cross-attention", choices=["both", "one-way"], default="one-way",
                        help="MovieLens: one-way reads each profile once for all its items; both "
                             "reads each pair whole")
    parser.add_argument("--users", type=int, default=None,
                        help="MovieLens: how many users' last takes to test on, drawn seeded (default: "
                             "all 610; 100 gave figures that one hit moved by 0.01 HR@10)")
    args = parser.parse_args()
    if set(args.domains.split(",")) - {"movie", "book"}:
        parser.error(f"--domains takes movie and/or book, got {args.domains!r}")
    if not DATA.exists():
        sys.exit(f"benchmark data not found at {DATA}")
    work = Path(args.home.parent if args.home else tempfile.mkdtemp(prefix="rec-bench-"))
    os.environ["VERTICALS_HOME"] = str(args.home or work / "home")
    from shared.export import cpu_name  # here, not at import: --help should not load torch

    parts = args.only or ["movielens", "tallrec", "throughput"]
    print(f"CPU: {cpu_name()}\n", flush=True)
    results = {}
    for part in parts:
        start = time.perf_counter()
        results[part] = (movielens(args.quick, work, args.cross_layers, args.cross_max_length,
                                   args.cross_attention, args.users)
                         if part == "movielens" else
                         tallrec(args.quick, args.domains.split(",")) if part == "tallrec"
                         else throughput(args.quick))
        print(f"[{part}] done in {time.perf_counter() - start:.0f}s", file=sys.stderr)
        print(table({part: results[part]}) + "\n", flush=True)
    if args.json:
        print(json.dumps(results | {"cpu": cpu_name()}, default=str))


if __name__ == "__main__":
    main()
