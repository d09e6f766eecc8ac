"""Analyses of schemes and scenarios: comparisons, attribution, validity, levers, tracking and more.

One signature per family: a scheme (or a compiled model) and a dataset in, an explicit
``seed`` where anything is random, a DataFrame out.
"""
