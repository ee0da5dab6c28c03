"""Pure notification rules: no I/O, no framework, only plain data and a `now`.

Modules, one job each: `config` (the validated YAML rule configuration), `snapshot` (what we
keep of a customer and the folds that merge an event into it), `rules` (one pure function
per rule), `nudges` (open / update / resolve decisions, snooze), `templates` (the sandboxed
next-step texts) and `schedule` (retry schedule, throttle, digest windows).
"""
