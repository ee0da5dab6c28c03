"""Fourfold notifications: nudges for partners and their reliable delivery."""
