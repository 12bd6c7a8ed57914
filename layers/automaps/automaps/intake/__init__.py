"""How events reach a contact: forms, page visits, ingestion, email engagement, and the checks on hostile input."""
