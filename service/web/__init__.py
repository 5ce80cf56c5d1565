"""What every page shares: the request's database session, language, errors."""
