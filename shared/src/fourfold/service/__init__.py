"""What every Fourfold service process shares: infrastructure resolution and the app shell."""
