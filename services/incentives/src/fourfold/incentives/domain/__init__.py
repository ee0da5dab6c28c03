"""The incentive rules: pure functions of plain data and a clock (no I/O, no framework).

- money: currency minor units and the one rounding rule;
- program: the validated YAML program, its versions and effective dates;
- state: a customer's and a partner's history folded from the lifecycle events;
- rules: one function per rule family, each returning entries with their inputs;
- accrual: a stream of events in event-time order → ledger entries (live, recalculation,
  what-if all run it).
"""
