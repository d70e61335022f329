"""Claim modules, one per topic; importing a module registers its claims."""
