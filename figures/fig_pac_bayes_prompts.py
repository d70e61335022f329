"""Bound vs held-out error for candidate prompts on AG News, LM prior and uniform prior.

Paper: Akinwande, Jiang, Sam, Kolter, "Understanding prompt engineering may not require rethinking
generalization", ICLR 2024, arXiv 2310.03957 (Figure 3 style: each prompt is a point, x = held-out
error, y = Occam (binomial) bound computed on the selection set; points above the diagonal are valid).
The LM prior is SmolLM2-135M with a uniform length prior; the uniform prior draws each token uniformly.
"""

from __future__ import annotations

TINY = {
    "n_train": 100,
    "n_test": 50,
    "prompts": [
        {"text": "{}", "test_error": 0.36, "bound_lm": 0.55, "bound_uniform": 0.62, "greedy": False},
        {"text": "a news article about {}", "test_error": 0.30, "bound_lm": 0.52, "bound_uniform": 0.80, "greedy": False},
        {"text": "news {}", "test_error": 0.27, "bound_lm": 0.47, "bound_uniform": 0.70, "greedy": True},
    ],
    "kendall_tau": {"lm": 0.6, "uniform": 0.2},
}


def compute(quick: bool) -> dict:
    from theory.pac_bayes.ag_news import AG_NEWS_FULL, AG_NEWS_QUICK, ag_news_prompt_experiment

    result = ag_news_prompt_experiment(**(AG_NEWS_QUICK if quick else AG_NEWS_FULL), progress=True)
    greedy_ids = result.greedy["token_ids"]
    prompts = [
        {
            "text": p["text"],
            "test_error": p["test_error"],
            "train_error": p["train_error"],
            "bound_lm": p["bounds"]["lm"]["occam_binomial"],
            "bound_uniform": p["bounds"]["uniform"]["occam_binomial"],
            "greedy": p["token_ids"] == greedy_ids,
        }
        for p in result.prompts
    ]
    return {
        "n_train": result.n_train,
        "n_test": result.n_test,
        "prompts": prompts,
        "kendall_tau": {k: v["kendall_tau"] for k, v in result.kendall_tau.items()},
    }


def make_figure(results):
    import matplotlib.pyplot as plt

    prompts = results["prompts"]
    test = [p["test_error"] for p in prompts]
    fig, ax = plt.subplots()
    tau = results.get("kendall_tau", {})
    ax.scatter(test, [p["bound_lm"] for p in prompts], s=18, color="C0",
               label=f"LM prior (SmolLM2), Kendall tau {tau.get('lm', float('nan')):.2f}")
    ax.scatter(test, [p["bound_uniform"] for p in prompts], s=18, facecolors="none", edgecolors="C1",
               label=f"uniform token prior, Kendall tau {tau.get('uniform', float('nan')):.2f}")
    for p in prompts:
        if p.get("greedy"):
            ax.scatter([p["test_error"]], [p["bound_lm"]], s=90, marker="*", color="C3", zorder=3,
                       label=f"greedy prompt: {p['text']!r}")
    lo = min(test) - 0.02
    hi = max(max(p["bound_uniform"] for p in prompts), max(p["bound_lm"] for p in prompts)) + 0.02
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--", label="bound = held-out error")
    ax.set_xlabel(f"held-out error (n = {results['n_test']})")
    ax.set_ylabel(f"Occam binomial bound, delta = 0.05 (n = {results['n_train']})")
    ax.set_title("AG News zero-shot prompts: bound vs held-out error")
    ax.legend(fontsize=7, loc="upper left")
    return fig
