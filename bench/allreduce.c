/* The floor for the gang rows of `npm run bench`: the same allreduce calls in a plain MPI
 * program. `allreduce noop` only starts and ends MPI (the cost of one mpirun per task). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  if (argc > 1 && strcmp(argv[1], "noop") == 0) {
    MPI_Finalize();
    return 0;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  enum { SMALL = 1000, BIG_REPS = 5 };
  double one = rank, sum = 0, times[SMALL];
  for (int i = 0; i < SMALL; i++) {
    double t = MPI_Wtime();
    MPI_Allreduce(&one, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    times[i] = MPI_Wtime() - t;
  }
  qsort(times, SMALL, sizeof times[0], compare);
  size_t n = 64u << 20 >> 3; /* 64 MiB of doubles */
  double *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
  for (size_t i = 0; i < n; i++) in[i] = rank;
  double best = 1e9;
  for (int r = 0; r < BIG_REPS; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    MPI_Allreduce(in, out, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    t = MPI_Wtime() - t;
    if (t < best) best = t;
  }
  if (rank == 0) {
    printf("{\"smallUs\":%.3f,\"bigMiBps\":%.1f,\"check\":%.0f}\n", times[SMALL / 2] * 1e6,
           64.0 / best, out[n - 1]);
  }
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
