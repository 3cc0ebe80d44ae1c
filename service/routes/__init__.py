"""HTTP routes, one module per resource; handlers stay thin and call the engine."""
