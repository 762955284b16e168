# R reference for the web calculator's Cox bundles (tests/serve/test_cox.py): survival's `lung` data,
#   coxph(Surv(time, status) ~ age + sex)   (Efron ties, R's default)
# and the predicted survival S(t | x) of one patient (age 63, sex 2) at 180, 365 and 730 days from
# summary(survfit(fit, newdata), times) -- R's Efron hazard estimator for an Efron fit.
#
# Run from anywhere:  Rscript tests/reference/r/cox_lung_predict.R
# Writes tests/reference/r/results/cox_lung_predict.csv (r_version and survival_version columns).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
fit <- coxph(Surv(time, status) ~ age + sex, data = lung, control = coxph.control(eps = 1e-11, iter.max = 100))
times <- c(180, 365, 730)
sf <- summary(survfit(fit, newdata = data.frame(age = 63, sex = 2)), times = times)
out <- data.frame(time = times, survival = as.vector(sf$surv), age_coef = unname(coef(fit)["age"]),
                  r_version = paste(R.version$major, R.version$minor, sep = "."),
                  survival_version = as.character(packageVersion("survival")))
write.csv(out, file.path(here, "results", "cox_lung_predict.csv"), row.names = FALSE)
