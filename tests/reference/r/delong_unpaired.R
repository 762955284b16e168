# Reference numbers for tests/reference/test_r_delong_unpaired.py: pROC's unpaired DeLong test
# (roc.test(paired = FALSE, method = "delong"): D = (AUC1 - AUC2) / sqrt(V1 + V2) referred to a t
# distribution with Welch–Satterthwaite df = (V1 + V2)^2 / (V1^2 / (N1 - 1) + V2^2 / (N2 - 1))).
#
# Data sets: pROC's aSAH (s100b and wfns in women vs men) and two small simulated cohorts with tied scores,
# where the t and normal p-values differ most. Direction fixed to "<" (higher score = case), as hccrad.
#
# Run from anywhere:  Rscript tests/reference/r/delong_unpaired.R
# Writes tests/reference/r/results/delong_unpaired_input.csv and delong_unpaired.csv (r_version and
# pROC_version columns).
suppressPackageStartupMessages(library(pROC))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

data(aSAH, package = "pROC")
cohort <- function(comparison, group, y, score) data.frame(comparison = comparison, group = group, y = y,
                                                          score = score)
asah <- function(marker) {
  rbind(cohort(paste0("aSAH_", marker), "a", as.integer(aSAH$outcome == "Poor")[aSAH$gender == "Female"],
               aSAH[[marker]][aSAH$gender == "Female"]),
        cohort(paste0("aSAH_", marker), "b", as.integer(aSAH$outcome == "Poor")[aSAH$gender == "Male"],
               aSAH[[marker]][aSAH$gender == "Male"]))
}
set.seed(20260522)
small <- function(name, n_a, n_b, shift_a, shift_b) {
  ya <- rep(0:1, length.out = n_a)
  yb <- rep(0:1, length.out = n_b)
  rbind(cohort(name, "a", ya, round(shift_a * ya + rnorm(n_a), 1)),
        cohort(name, "b", yb, round(shift_b * yb + rnorm(n_b), 1)))
}
input <- rbind(asah("s100b"), asah("wfns"), small("small_12_16", 12, 16, 1.6, 0.2),
               small("small_20_9", 20, 9, 1.2, -0.2))
write.csv(input, file.path(out, "delong_unpaired_input.csv"), row.names = FALSE)
input <- read.csv(file.path(out, "delong_unpaired_input.csv"))  # compute on exactly what the tests read

rows <- lapply(unique(input$comparison), function(cmp) {
  d <- input[input$comparison == cmp, ]
  a <- d[d$group == "a", ]
  b <- d[d$group == "b", ]
  ra <- roc(a$y, a$score, levels = c(0, 1), direction = "<", quiet = TRUE)
  rb <- roc(b$y, b$score, levels = c(0, 1), direction = "<", quiet = TRUE)
  tt <- roc.test(ra, rb, paired = FALSE, method = "delong")
  data.frame(comparison = cmp, auc_a = as.numeric(ra$auc), auc_b = as.numeric(rb$auc),
             var_a = var(ra, method = "delong"), var_b = var(rb, method = "delong"),
             statistic = unname(tt$statistic), df = unname(tt$parameter), p = tt$p.value)
})
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$pROC_version <- as.character(packageVersion("pROC"))
write.csv(res, file.path(out, "delong_unpaired.csv"), row.names = FALSE)
