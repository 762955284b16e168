# Reference numbers for tests/survival/test_asaur_example.py: Kaplan–Meier, log-rank and Cox (Efron ties)
# on asaur's hepatoCellular table (227 resected HCC patients; OS in months, Death 0/1), as the example study
# examples/asaur_hepatocellular_survival/study.yaml analyses it.
#
# Run from the repository root (the data folder ../shared/data sits beside the repository):
#   Rscript tests/survival/R/asaur_reference.R
# Writes tests/survival/results/asaur_{km_bclc,logrank,cox_univariable,cox_multivariable}.csv; each file
# has the R and survival versions in its columns r_version / survival_version.
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = FALSE)
script <- normalizePath(sub("^--file=", "", args[grep("^--file=", args)]))
here <- dirname(script)                                 # tests/survival/R
repo <- normalizePath(file.path(here, "..", "..", ".."))
csv <- file.path(repo, "..", "shared", "data", "hcc_clinical", "asaur_hepatoCellular", "hepatoCellular.csv")
out <- file.path(here, "..", "results")
dir.create(out, showWarnings = FALSE)
d <- read.csv(csv)
versions <- data.frame(r_version = paste(R.version$major, R.version$minor, sep = "."),
                       survival_version = as.character(packageVersion("survival")))
save <- function(df, name) {
  write.csv(cbind(df, versions), file.path(out, name), row.names = FALSE)
}

# Kaplan–Meier by BCLC at every event time (log CI, survfit's default)
fit <- survfit(Surv(OS, Death) ~ BCLC, data = d)
s <- summary(fit)
save(data.frame(group = sub("^BCLC=", "", as.character(s$strata)), time = s$time, n_risk = s$n.risk,
                n_event = s$n.event, survival = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper),
     "asaur_km_bclc.csv")

# log-rank by each grouping the study declares
rows <- lapply(c("BCLC", "TNM"), function(g) {
  sd <- survdiff(as.formula(paste("Surv(OS, Death) ~", g)), data = d)
  df <- length(sd$n) - 1
  data.frame(grouping = g, chisq = sd$chisq, df = df, p = pchisq(sd$chisq, df, lower.tail = FALSE))
})
save(do.call(rbind, rows), "asaur_logrank.csv")

# Cox proportional hazards, Efron ties (coxph's default): each covariate alone, then all together
covariates <- c("Age", "Gender", "Tumorsize", "Vascularinvasion", "Tumormultiplicity", "Capsulation")
cox_table <- function(fit) {
  cf <- summary(fit)$coefficients
  data.frame(covariate = rownames(cf), coef = cf[, "coef"], hr = cf[, "exp(coef)"], se = cf[, "se(coef)"],
             z = cf[, "z"], p = cf[, "Pr(>|z|)"], n = fit$n, events = fit$nevent)
}
uni <- do.call(rbind, lapply(covariates, function(v)
  cox_table(coxph(as.formula(paste("Surv(OS, Death) ~", v)), data = d, ties = "efron"))))
save(uni, "asaur_cox_univariable.csv")
multi <- coxph(as.formula(paste("Surv(OS, Death) ~", paste(covariates, collapse = " + "))), data = d,
               ties = "efron")
save(cox_table(multi), "asaur_cox_multivariable.csv")
