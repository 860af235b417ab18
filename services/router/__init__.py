"""Router: open canonical records, apply the sharing agreements, minimise, seal and sign per recipient."""
