"""A new organization's first steps in Maillage, shown to its coordinators until they are done."""
