"""The pages that show a referral protocol to people: its states, deadlines, who acts, and its diagram."""
