# Reference numbers for tests/reference/test_r_cox_categorical.py: R survival's coxph (Efron ties) with a
# categorical covariate (a factor, treatment contrasts against a chosen reference level) on a simulated
# cohort with tied times: per-level coefficients, SEs and HRs (univariable and with age), the univariable
# likelihood-ratio test of the factor (summary(fit)$logtest) and the multivariable Wald test of its levels
# together (b' V^-1 b from coef(fit) and vcov(fit), as survival's own summary()$waldtest for a one-term
# model; checked against it, rounded to 2 decimals as summary() gives it, on the univariable fit).
#
# Run from anywhere:  Rscript tests/reference/r/cox_categorical.R
# Writes tests/reference/r/results/cox_categorical_input.csv (the cohort) and cox_categorical.csv (one row per
# model term or test; r_version and survival_version columns).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

set.seed(2026)
n <- 120
bclc <- sample(c("A", "B", "C", "D"), n, replace = TRUE, prob = c(0.3, 0.3, 0.25, 0.15))
age <- round(rnorm(n, 62, 9), 1)
eta <- 0.02 * (age - 62) + c(A = -0.4, B = 0, C = 0.5, D = 1.1)[bclc]
t_event <- rexp(n, 0.05 * exp(eta))
t_cens <- runif(n, 5, 40)
time <- pmax(1, round(pmin(t_event, t_cens)))  # whole months: tied times
status <- as.integer(t_event <= t_cens)
d <- data.frame(id = sprintf("p%03d", seq_len(n)), time = time, status = status, age = age, BCLC = bclc)
write.csv(d, file.path(out, "cox_categorical_input.csv"), row.names = FALSE)

reference <- "B"
d$BCLCf <- relevel(factor(d$BCLC, levels = c("A", "B", "C", "D")), ref = reference)
rows <- list()
term_rows <- function(fit, model) {
  s <- summary(fit)$coefficients
  term <- sub("^BCLCf", "BCLC=", rownames(s))
  data.frame(model = model, term = term, coef = s[, "coef"], se = s[, "se(coef)"], hr = s[, "exp(coef)"],
             stat = NA_real_, df = NA_real_, p = s[, "Pr(>|z|)"], row.names = NULL)
}
uni <- coxph(Surv(time, status) ~ BCLCf, data = d, ties = "efron",
             control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100))
multi <- coxph(Surv(time, status) ~ age + BCLCf, data = d, ties = "efron",
               control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100))
lt <- summary(uni)$logtest
k <- grep("^BCLCf", names(coef(multi)))
b <- coef(multi)[k]
w <- as.numeric(t(b) %*% solve(vcov(multi)[k, k], b))
bu <- coef(uni)
wu <- as.numeric(t(bu) %*% solve(vcov(uni), bu))
stopifnot(abs(wu - summary(uni)$waldtest[["test"]]) < 0.01)  # summary() rounds it to 2 decimals
res <- rbind(term_rows(uni, "univariable"), term_rows(multi, "multivariable"),
             data.frame(model = "univariable", term = "LR BCLC", coef = NA, se = NA, hr = NA,
                        stat = lt[["test"]], df = lt[["df"]], p = lt[["pvalue"]]),
             data.frame(model = "multivariable", term = "Wald BCLC", coef = NA, se = NA, hr = NA,
                        stat = w, df = length(k), p = pchisq(w, length(k), lower.tail = FALSE)))
res$reference <- reference
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$survival_version <- as.character(packageVersion("survival"))
write.csv(res, file.path(out, "cox_categorical.csv"), row.names = FALSE)
