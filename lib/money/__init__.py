"""Money: the dated price table, costs, price corrections and budgets."""
