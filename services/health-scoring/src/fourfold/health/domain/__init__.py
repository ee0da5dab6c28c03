"""Pure health-scoring rules: no I/O, no framework, only plain data and an `as_of` time.

Modules, one job each: `signals` (what we know of a customer, and the folds that merge an
event into it), `scorecard` (the configuration), `components` (0..1 readings), `lifecycle`
(the 4I step), `scoring` (the weighted score and its explanation), `override`, `trend`, and
`schedule` (when time alone changes a result). Handlers load signals, fold, `score`, save.
"""
