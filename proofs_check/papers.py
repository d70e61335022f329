"""The five papers whose claims this package checks (plus the package's own core checks)."""

from proofs_check.registry import Paper

NTK_CONSISTENCY = Paper(
    authors="Adityanarayanan Radhakrishnan, Mikhail Belkin, Caroline Uhler",
    title="Wide and deep neural networks achieve consistency for classification",
    venue="PNAS 2023",
    arxiv="2204.14126",
)
DEEP_KERNEL_MACHINES = Paper(
    authors="Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison",
    title="A theory of representation learning gives a deep generalisation of kernel methods",
    venue="ICML 2023",
    arxiv="2108.13097",
)
PROMPT_PAC_BAYES = Paper(
    authors="Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter",
    title="Understanding prompt engineering may not require rethinking generalization",
    venue="ICLR 2024",
    arxiv="2310.03957",
)
NB_VS_LR = Paper(
    authors="Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu",
    title="Revisiting Discriminative vs. Generative Classifiers: Theory and Implications",
    venue="ICML 2023",
    arxiv="2302.02334",
)
INDUCTIVE_BIAS = Paper(
    authors="Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete",
    title="Towards Exact Computation of Inductive Bias",
    venue="IJCAI 2024",
    arxiv="2406.15941",
)
MEHLER = Paper(
    authors="Ryan O'Donnell",
    title="Analysis of Boolean Functions (Ch. 11: Gaussian space, Hermite polynomials and Mehler's formula)",
    venue="Cambridge University Press 2014",
    arxiv="2105.10386",
)
