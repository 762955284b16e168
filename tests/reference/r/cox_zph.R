# Reference numbers for tests/reference/test_r_cox_zph.py: the proportional-hazards score test of R
# survival >= 3 `cox.zph` (transform = "km", the default; terms tested jointly, GLOBAL test) on survival's
# `veteran`, for Cox models with Efron ties (coxph's default):
#   full:    Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior   (celltype: 3 dummies)
#   numeric: Surv(time, status) ~ age + karno + diagtime
# with terms = TRUE (a categorical variable is one term on its df) and terms = FALSE (one row per column).
#
# Run from anywhere:  Rscript tests/reference/r/cox_zph.R
# Writes tests/reference/r/results/veteran.csv (the data, as R has it) and cox_zph_veteran.csv (r_version
# and survival_version columns).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

vet <- veteran
vet$celltype <- as.character(vet$celltype)
write.csv(vet, file.path(out, "veteran.csv"), row.names = FALSE)
vet <- read.csv(file.path(out, "veteran.csv"))
vet$celltype <- factor(vet$celltype, levels = levels(veteran$celltype))  # squamous is the reference level

models <- list(full = Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior,
               numeric = Surv(time, status) ~ age + karno + diagtime)
rows <- list()
for (name in names(models)) {
  fit <- coxph(models[[name]], data = vet, ties = "efron")
  for (terms in c(TRUE, FALSE)) {
    tab <- cox.zph(fit, transform = "km", terms = terms, global = TRUE)$table
    rows[[length(rows) + 1]] <- data.frame(model = name, terms = terms, term = rownames(tab),
                                           chisq = tab[, "chisq"], df = tab[, "df"], p = tab[, "p"])
  }
}
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$survival_version <- as.character(packageVersion("survival"))
write.csv(res, file.path(out, "cox_zph_veteran.csv"), row.names = FALSE)
