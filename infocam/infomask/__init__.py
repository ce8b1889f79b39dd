"""Info-masking (paper 2, §4): patch PMI scores and masks (:mod:`.masking`) and the
stochastic-output sandwich bound (:mod:`.sandwich`)."""
