"""Rule significance test: does a route's entry signal predict the next bar's return?

`signals.py` records the signal (+1 long, −1 short, 0 flat) at every bar close by running the
real engine with the strategy's entries switched off; `bootstrap.py` tests the mean of
signal × detrended next-bar log return against a bootstrap null centred at zero; `job.py` is the
`significance_test` job; `request.py` validates requests; `charts.py` draws the histogram.
"""
