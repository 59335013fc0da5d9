"""Every domain event of the product, by family."""
