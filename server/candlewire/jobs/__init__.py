"""The job runtime: sessions executed in worker processes, their events, cancel and restart recovery."""
