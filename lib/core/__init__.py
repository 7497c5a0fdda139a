"""The ground floor: settings, clock, errors, text and number formatting. No other lib imports."""
