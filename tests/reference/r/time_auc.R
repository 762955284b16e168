# Reference numbers for tests/reference/test_r_time_auc.py: cumulative/dynamic time-dependent AUC with
# inverse-probability-of-censoring weights 1/G(T_i-) for the cases (Uno et al. 2007; Blanche et al. 2013),
# from riskRegression::Score(metrics = "auc", cens.model = "km"), the weighting timeROC uses too.
#
# Data sets: a simulated cohort with integer times (events and censorings tied at the same times) and tied
# scores, and survival's `veteran` (risk = -karno). The censoring distribution is estimated on the same
# data (hccrad: pass the cohort as its own training cohort). riskRegression takes predicted risks, so
# the risk score enters as plogis(risk), a monotone map that leaves every AUC unchanged.
#
# Run from anywhere:  Rscript tests/reference/r/time_auc.R
# Writes tests/reference/r/results/time_auc_input.csv and time_auc.csv (r_version, riskRegression_version,
# prodlim_version and survival_version columns).
suppressPackageStartupMessages({library(riskRegression); library(prodlim); library(survival)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(20260522)
n <- 150
x <- rnorm(n)
t_event <- rexp(n, 0.08 * exp(0.8 * x))
t_cens <- runif(n, 2, 40)
sim <- data.frame(dataset = "simulated", time = pmax(1, round(pmin(t_event, t_cens))),
                  status = as.integer(t_event <= t_cens), risk = round(x, 1))
vet <- data.frame(dataset = "veteran", time = veteran$time, status = veteran$status, risk = -veteran$karno)
input <- rbind(sim, vet)
write.csv(input, file.path(out, "time_auc_input.csv"), row.names = FALSE)
input <- read.csv(file.path(out, "time_auc_input.csv"))  # compute on exactly what the tests read
horizons <- list(simulated = c(3, 6, 10, 15, 25), veteran = c(30, 60, 90, 180, 365))

rows <- lapply(names(horizons), function(ds) {
  d <- input[input$dataset == ds, ]
  times <- horizons[[ds]]
  risk <- matrix(plogis(d$risk), nrow(d), length(times))
  sc <- Score(list(marker = risk), formula = Hist(time, status) ~ 1, data = d, times = times,
              metrics = "auc", cens.model = "km", null.model = FALSE, conf.int = FALSE)
  s <- as.data.frame(sc$AUC$score)
  data.frame(dataset = ds, time = s$times, auc = s$AUC,
             n_cases = sapply(s$times, function(h) sum(d$time <= h & d$status == 1)),
             n_controls = sapply(s$times, function(h) sum(d$time > h)))
})
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$riskRegression_version <- as.character(packageVersion("riskRegression"))
res$prodlim_version <- as.character(packageVersion("prodlim"))
res$survival_version <- as.character(packageVersion("survival"))
write.csv(res, file.path(out, "time_auc.csv"), row.names = FALSE)
