"""Compare: prompt × setting grids, what they cost, how they run, and their exports."""
