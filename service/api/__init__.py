"""The JSON API (`/api/v1`): keys per organization, referrals, protocols and the directory."""
