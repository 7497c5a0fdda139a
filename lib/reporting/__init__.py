"""Read models behind Analytics, Home and the CLI report: spend, ledger, leaderboard."""
