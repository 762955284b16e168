# Reference numbers for tests/reference/test_r_validate_lrm.py: Harrell's bootstrap optimism correction of
# a fixed (pre-specified, unpenalised) logistic model, rms::validate(lrm(y ~ x1 + x2 + x3, x = TRUE,
# y = TRUE), B = 2000): apparent, optimism and corrected Dxy, calibration Intercept and Slope, on a seeded
# data set (n = 150, 3 predictors, 2 of them noise, so the model is visibly optimistic). The bootstrap is
# Monte-Carlo: the test compares hccrad's own resamples with these numbers within a stated MC tolerance.
# The apparent Dxy is also given exactly (Hmisc::somers2 of the fitted probabilities; lrm bins them).
#
# Run from anywhere:  Rscript tests/reference/r/validate_lrm.R
# Writes tests/reference/r/results/validate_lrm_input.csv and validate_lrm.csv (r_version, rms_version).
suppressPackageStartupMessages(library(rms))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(1996)
n <- 150
d <- data.frame(x1 = rnorm(n), x2 = rnorm(n), x3 = rnorm(n))
d$y <- rbinom(n, 1, plogis(-0.3 + 1.2 * d$x1))
write.csv(d, file.path(out, "validate_lrm_input.csv"), row.names = FALSE)
d <- read.csv(file.path(out, "validate_lrm_input.csv"))

fit <- lrm(y ~ x1 + x2 + x3, data = d, x = TRUE, y = TRUE)
set.seed(22)
v <- validate(fit, B = 2000)
keep <- c("Dxy", "Intercept", "Slope")
res <- data.frame(index = keep, apparent = v[keep, "index.orig"], optimism = v[keep, "optimism"],
                  corrected = v[keep, "index.corrected"], n_boot = v[keep, "n"])
exact_dxy <- unname(Hmisc::somers2(plogis(fit$linear.predictors), d$y)["Dxy"])
res <- rbind(res, data.frame(index = "Dxy_exact", apparent = exact_dxy, optimism = NA, corrected = NA,
                             n_boot = NA))
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$rms_version <- as.character(packageVersion("rms"))
write.csv(res, file.path(out, "validate_lrm.csv"), row.names = FALSE)
