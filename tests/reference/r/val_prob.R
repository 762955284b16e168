# Reference numbers for tests/reference/test_r_val_prob.py: rms::val.prob(p, y, pl = FALSE), every
# statistic (Dxy, C, R2, D, U, Q, Brier, Intercept, Slope, Emax, E90, Eavg, Spiegelhalter z), on two
# seeded data sets of predicted probabilities and outcomes:
#   large: n = 300, predictions too extreme (true logit = 0.7 * logit p - 0.3), distinct values
#   small: n = 40, predictions rounded to 2 decimals (tied values) within [0.01, 0.99]
#
# Run from anywhere:  Rscript tests/reference/r/val_prob.R
# Writes tests/reference/r/results/val_prob_input.csv (the data, as R reads it back) and val_prob.csv
# (r_version and rms_version columns).
suppressPackageStartupMessages(library(rms))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(2022)
make <- function(name, n, digits) {
  lp <- rnorm(n, -0.4, 1.6)
  p <- pmin(pmax(round(plogis(lp), digits), 0.01), 0.99)  # no probability of exactly 0 or 1
  y <- rbinom(n, 1, plogis(0.7 * qlogis(p) - 0.3))
  data.frame(dataset = name, p = p, y = y)
}
input <- rbind(make("large", 300, 15), make("small", 40, 2))
write.csv(input, file.path(out, "val_prob_input.csv"), row.names = FALSE)
input <- read.csv(file.path(out, "val_prob_input.csv"))

rows <- list()
for (name in unique(input$dataset)) {
  d <- input[input$dataset == name, ]
  s <- val.prob(d$p, d$y, pl = FALSE)
  rows[[length(rows) + 1]] <- data.frame(dataset = name, statistic = names(s), value = unname(s))
}
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$rms_version <- as.character(packageVersion("rms"))
write.csv(res, file.path(out, "val_prob.csv"), row.names = FALSE)
