"""Image providers: the interface, the shared HTTP rules, one module per API, the registry."""
