# Reference numbers for tests/reference/test_r_cox_ties.py: R survival `coxph` with ties = "breslow" and
# ties = "efron" on survival's `veteran` (tests/reference/r/results/veteran.csv, written by cox_zph.R; many
# tied death times), for
#   full:    Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior   (celltype: 3 dummies)
#   numeric: Surv(time, status) ~ age + karno + diagtime
# coefficients and SEs, the log partial likelihoods (null and fitted), the likelihood-ratio, Wald and score
# (log-rank) tests of summary(fit) ($logtest, $waldtest, $sctest), cox.zph(fit) (terms, GLOBAL) and the
# baseline cumulative hazard basehaz(fit, centered = TRUE), survfit(fit, newdata) of four patients; and the AIC stepwise traces of step() on the full
# model (backward from it, forward from the null model).
#
# Run from anywhere:  Rscript tests/reference/r/cox_ties.R
# Writes tests/reference/r/results/cox_ties_coef.csv, cox_ties_tests.csv, cox_ties_zph.csv, cox_ties_basehaz.csv, cox_ties_predict.csv and cox_ties_step.csv (r_version
# and survival_version columns).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
vet <- read.csv(file.path(out, "veteran.csv"))
vet$celltype <- factor(vet$celltype, levels = levels(veteran$celltype))  # squamous is the reference level

models <- list(full = Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior,
               numeric = Surv(time, status) ~ age + karno + diagtime)
coefs <- list(); tests <- list(); zph <- list(); base <- list(); pred <- list()
for (name in names(models)) for (ties in c("breslow", "efron")) {
  fit <- coxph(models[[name]], data = vet, ties = ties, control = coxph.control(eps = 1e-11, iter.max = 100))
  s <- summary(fit)
  wald <- drop(coef(fit) %*% solve(vcov(fit), coef(fit)))  # summary() rounds $waldtest
  coefs[[length(coefs) + 1]] <- data.frame(model = name, ties = ties, term = names(coef(fit)),
                                           coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))))
  tests[[length(tests) + 1]] <- data.frame(
    model = name, ties = ties, test = c("loglik_null", "loglik", "lr", "wald", "score"),
    statistic = c(fit$loglik[1], fit$loglik[2], s$logtest["test"], wald, s$sctest["test"]),
    df = c(NA, NA, s$logtest["df"], length(coef(fit)), s$sctest["df"]),
    p = c(NA, NA, s$logtest["pvalue"], pchisq(wald, length(coef(fit)), lower.tail = FALSE), s$sctest["pvalue"]))
  bh <- basehaz(fit, centered = TRUE)  # cumulative hazard at the means: Breslow estimator, Efron for ties = "efron"
  base[[length(base) + 1]] <- data.frame(model = name, ties = ties, time = bh$time, hazard = bh$hazard)
  times <- c(30, 100, 250)  # S(t | x) of the first four patients (survfit: Efron hazard for ties = "efron")
  sf <- summary(survfit(fit, newdata = vet[1:4, ]), times = times)
  pred[[length(pred) + 1]] <- data.frame(model = name, ties = ties, patient = rep(1:4, each = length(times)),
                                         time = rep(times, 4), survival = as.vector(sf$surv))
  tab <- cox.zph(fit, transform = "km", terms = TRUE, global = TRUE)$table
  zph[[length(zph) + 1]] <- data.frame(model = name, ties = ties, term = rownames(tab),
                                       chisq = tab[, "chisq"], df = tab[, "df"], p = tab[, "p"])
}
# AIC stepwise selection, R step() (backward from the full model; forward from the null model)
steps <- list()
for (ties in c("breslow", "efron")) {
  full <- coxph(models$full, data = vet, ties = ties, control = coxph.control(eps = 1e-11, iter.max = 100))
  null <- coxph(Surv(time, status) ~ 1, data = vet, ties = ties)
  runs <- list(backward = step(full, direction = "backward", trace = 0),
               forward = step(null, scope = list(lower = ~1, upper = formula(full)), direction = "forward",
                              trace = 0))
  for (direction in names(runs)) {
    a <- runs[[direction]]$anova
    steps[[length(steps) + 1]] <- data.frame(ties = ties, direction = direction, step = seq_len(nrow(a)) - 1,
                                             change = trimws(as.character(a$Step)), aic = a$AIC)
  }
}
versions <- function(d) {
  d$r_version <- paste(R.version$major, R.version$minor, sep = ".")
  d$survival_version <- as.character(packageVersion("survival"))
  d
}
write.csv(versions(do.call(rbind, coefs)), file.path(out, "cox_ties_coef.csv"), row.names = FALSE)
write.csv(versions(do.call(rbind, tests)), file.path(out, "cox_ties_tests.csv"), row.names = FALSE)
write.csv(versions(do.call(rbind, zph)), file.path(out, "cox_ties_zph.csv"), row.names = FALSE)
write.csv(versions(do.call(rbind, base)), file.path(out, "cox_ties_basehaz.csv"), row.names = FALSE)
write.csv(versions(do.call(rbind, pred)), file.path(out, "cox_ties_predict.csv"), row.names = FALSE)
write.csv(versions(do.call(rbind, steps)), file.path(out, "cox_ties_step.csv"), row.names = FALSE)
