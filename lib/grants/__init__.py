"""Who may use which models (allow-lists per role and user) and how many images a day
(a per-user cap): ``rules`` and ``caps``."""
