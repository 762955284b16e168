# Reference numbers for tests/reference/test_r_compare_c.py: compareC 1.3.3 (Kang, Chen, Petrick & Gallas,
# Stat Med 2015;34:685-703) on a simulated cohort with tied times and scores, and on survival's `lung`.
#
# compareC is not packaged in Debian and CRAN cannot be reached from the project's machines, so this script
# carries compareC 1.3.3's computation in R: its five C kernels (src/survivalC.c: csign, TauXX, TauXY,
# VarTauXX, VarTauXY, CovTauXXXY, CovTauXYXZ) written with outer(), and its R functions vardiffC() and
# compareC() (R/preload.R) copied line by line, in particular the column-filled `matrix(c(...), 2)` of
# the delta-method covariance. When the real package is installed (e.g. built from its CRAN source with
# `R CMD INSTALL -l /tmp/rlib compareC_1.3.3.tar.gz` and R_LIBS=/tmp/rlib), the script also runs
# compareC::compareC() on every data set and stops unless both agree to 1e-12 (they did when these files
# were generated).
#
# Run from anywhere:  Rscript tests/reference/r/compare_c.R
# Writes tests/reference/r/results/compare_c_input.csv (the simulated cohort and lung's complete cases) and
# compare_c.csv (one row per data set; r_version and survival_version columns).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
out <- file.path(here, "results")
dir.create(out, showWarnings = FALSE)

## compareC 1.3.3 src/survivalC.c, as n x n kernel matrices (the C loops skip i == j: diagonals are 0)
csign_matrix <- function(timeX, statusX) {
  xi <- outer(timeX, timeX, function(a, b) a)
  xj <- outer(timeX, timeX, function(a, b) b)
  ci <- outer(statusX, statusX, function(a, b) a)
  cj <- outer(statusX, statusX, function(a, b) b)
  k <- ifelse(xi > xj, ifelse(cj == 1, 1, 0),
       ifelse(xi < xj, ifelse(ci == 1, -1, 0),
              ifelse(ci == 1 & cj == 0, -1, ifelse(ci == 0 & cj == 1, 1, 0))))
  diag(k) <- 0
  k
}
kern_xy <- function(timeX, statusX, scoreY) {
  k <- csign_matrix(timeX, statusX) * sign(outer(scoreY, scoreY, "-"))
  diag(k) <- 0
  k
}
tau <- function(k) sum(k) / nrow(k) / (nrow(k) - 1)
u_cov <- function(k, l) {  # VarTauXX / VarTauXY (k = l), CovTauXXXY, CovTauXYXZ
  n <- nrow(k)
  s1 <- sum(4 * rowSums(k) * rowSums(l))
  s3 <- 2 * sum(k * l)
  (s1 - s3 + (2 * n - 3) * (-2) * sum(k) * sum(l) / n / (n - 1)) / n / (n - 1) / (n - 2) / (n - 3)
}
Tau_XX <- function(timeX, statusX) tau(csign_matrix(timeX, statusX)^2)
Tau_XY <- function(timeX, statusX, scoreY) tau(kern_xy(timeX, statusX, scoreY))
Var.Tau_XX <- function(timeX, statusX) {
  k <- csign_matrix(timeX, statusX)^2
  u_cov(k, k)
}
Var.Tau_XY <- function(timeX, statusX, scoreY) {
  k <- kern_xy(timeX, statusX, scoreY)
  u_cov(k, k)
}
Cov.Tau_XXXY <- function(timeX, statusX, scoreY)
  u_cov(csign_matrix(timeX, statusX)^2, kern_xy(timeX, statusX, scoreY))
Cov.Tau_XYXZ <- function(timeX, statusX, scoreY, scoreZ)
  u_cov(kern_xy(timeX, statusX, scoreY), kern_xy(timeX, statusX, scoreZ))

## compareC 1.3.3 R/preload.R, unchanged below the kernel calls
estC <- function(timeX, statusX, scoreY) {
  return(as.numeric((Tau_XY(timeX, statusX, scoreY) / Tau_XX(timeX, statusX) + 1) / 2))
}
vardiffC <- function(timeX, statusX, scoreY, scoreZ) {
  t11 = Tau_XX(timeX,statusX)
  t12 = Tau_XY(timeX,statusX,scoreY)
  t13 = Tau_XY(timeX,statusX,scoreZ)
  var.t11 = Var.Tau_XX(timeX,statusX)
  var.t12 = Var.Tau_XY(timeX,statusX,scoreY)
  var.t13 = Var.Tau_XY(timeX,statusX,scoreZ)
  cov.t1112 = Cov.Tau_XXXY(timeX,statusX,scoreY)
  cov.t1113 = Cov.Tau_XXXY(timeX,statusX,scoreZ)
  cov.t1213 = Cov.Tau_XYXZ(timeX,statusX,scoreY,scoreZ)
  est.varCxy = as.numeric(1/4*(c(1/t11,-t12/t11^2)%*%matrix(c(var.t12,  cov.t1112,cov.t1112,var.t11),2)%*%c(1/t11,-t12/t11^2)))
  est.varCxz = as.numeric(1/4*(c(1/t11,-t13/t11^2)%*%matrix(c(var.t13,  cov.t1113,cov.t1113,var.t11),2)%*%c(1/t11,-t13/t11^2)))
  est.cov =    as.numeric(1/4*(c(1/t11,-t12/t11^2)%*%matrix(c(cov.t1213,cov.t1113,cov.t1112,var.t11),2)%*%c(1/t11,-t13/t11^2)))
  est.vardiff_c = est.varCxy + est.varCxz - 2*est.cov
  return(list(est.vardiff_c=est.vardiff_c,est.varCxy=est.varCxy,est.varCxz=est.varCxz,est.cov=est.cov))
}
compareC <- function(timeX, statusX, scoreY, scoreZ) {
  est.c = c(estC(timeX,statusX,scoreY),estC(timeX,statusX,scoreZ))
  names(est.c) <- c("Cxy","Cxz")
  est.diff_c = est.c[1] - est.c[2]
  names(est.diff_c) <- NULL
  tmpout = vardiffC(timeX,statusX,scoreY,scoreZ)
  zscore = est.diff_c/sqrt(tmpout$est.vardiff_c)
  pval = 2*(1-pnorm(abs(zscore)))
  return(list(est.c=est.c,est.diff_c=est.diff_c,est.vardiff_c=tmpout$est.vardiff_c,
              est.varCxy=tmpout$est.varCxy,est.varCxz=tmpout$est.varCxz,est.cov=tmpout$est.cov,
              zscore=zscore,pval=pval))
}

## data: hccrad's scores are risks (higher = earlier event); compareC's predict survival, so pass -risk
set.seed(20260522)
n <- 80
x <- rnorm(n)
t_event <- rexp(n, 0.1 * exp(0.9 * x))
t_cens <- rexp(n, 0.04)
sim <- data.frame(dataset = "simulated", time = pmax(1, round(pmin(t_event, t_cens))),
                  status = as.integer(t_event <= t_cens), risk_a = round(x, 1), risk_b = round(rnorm(n), 1))
lung_cc <- na.omit(lung[, c("time", "status", "age", "ph.karno")])
lungd <- data.frame(dataset = "lung", time = lung_cc$time, status = lung_cc$status - 1L,
                    risk_a = -lung_cc$ph.karno, risk_b = lung_cc$age)
input <- rbind(sim, lungd)
write.csv(input, file.path(out, "compare_c_input.csv"), row.names = FALSE)
input <- read.csv(file.path(out, "compare_c_input.csv"))  # compute on exactly what the tests read

rows <- lapply(split(input, factor(input$dataset, levels = unique(input$dataset))), function(d) {
  r <- compareC(d$time, d$status, -d$risk_a, -d$risk_b)
  if (requireNamespace("compareC", quietly = TRUE)) {
    ref <- compareC::compareC(d$time, d$status, -d$risk_a, -d$risk_b)
    stopifnot(isTRUE(all.equal(unlist(r), unlist(ref), tolerance = 1e-12)))
    message("compare_c.R: ", d$dataset[1], " agrees with compareC ", packageVersion("compareC"))
  }
  data.frame(dataset = d$dataset[1], n = nrow(d), c_a = r$est.c[[1]], c_b = r$est.c[[2]],
             difference = r$est.diff_c, var_c_a = r$est.varCxy, var_c_b = r$est.varCxz, cov_c_ab = r$est.cov,
             var_difference = r$est.vardiff_c, z = r$zscore, p = r$pval)
})
res <- do.call(rbind, rows)
res$r_version <- paste(R.version$major, R.version$minor, sep = ".")
res$survival_version <- as.character(packageVersion("survival"))
res$compareC_version <- "1.3.3 (computation carried in this script)"
write.csv(res, file.path(out, "compare_c.csv"), row.names = FALSE)
