"""Multiple systems estimation: how many people no list holds.

Pure code (numpy, statsmodels; no Flask, no database): capture histories in, posterior out.
`captures` reads and checks capture histories, `lcmcr` is the Bayesian latent-class model,
`loglinear` the classical cross-check. `histories` builds capture histories from casebook's own
cases and matched outside lists (the only part that reads the database).
"""
