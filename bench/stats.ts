/** The few numbers the benchmark takes of its samples, and how its report writes them. */

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
export const count = (n: number) => Math.round(n).toLocaleString("en");
