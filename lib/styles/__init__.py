"""The styles library: prompt templates the team shares.

Their previews are jobs, so they live with the jobs: ``lib.jobs.style_previews``.
"""
