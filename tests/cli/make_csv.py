"""CSV tables for tests/cli/csv_check.sh (no NumPy needed).
  make_csv.py classify PATH   three flower species (one name holds a comma), an id column, 4 features
  make_csv.py regress PATH    targets y1 = sin(2a) + b^2 and y2 = 50 c - a / 100 (scales 1 and 50), noise 0.05
  make_csv.py prices PATH     price = 150000 + 900 area + 8000 rooms - 1200 age + noise of std 5000 (offset >> spread)
  make_csv.py accuracy PREDICTIONS.csv TABLE.csv COLUMN   share of predicted names equal to the table's column
  make_csv.py rmse PREDICTIONS.csv TABLE.csv COL[,COL]     RMSE of predicted values against the table's columns
"""
import csv, math, random, sys

def classify(path):
    rnd = random.Random(1)
    names = ["Iris setosa", "Iris versicolor, var. A", "Iris virginica"]
    centres = [(5.0, 3.4, 1.5, 0.2), (5.9, 2.8, 4.3, 1.3), (6.6, 3.0, 5.6, 2.0)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "sepal length", "sepal width", "petal length", "petal width", "species"])
        for i in range(600):
            k = rnd.randrange(3)
            w.writerow([1000 + i] + ["%.3f" % (c + rnd.gauss(0, 0.3)) for c in centres[k]] + [names[k]])

def regress(path):
    rnd = random.Random(2)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "y1", "y2"])
        for _ in range(3000):
            a, b, c = rnd.uniform(-100, 100), rnd.uniform(-1, 1), rnd.uniform(-1, 1)
            w.writerow(["%.4f" % a, "%.4f" % b, "%.4f" % c, "%.5f" % (math.sin(a / 50) + b * b + rnd.gauss(0, 0.05)),
                        "%.5f" % (50 * c - a / 100 + rnd.gauss(0, 0.05))])

def prices(path):
    rnd = random.Random(5)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rooms", "area", "age", "price"])
        for _ in range(2000):
            rooms, area, age = rnd.randint(1, 6), rnd.uniform(30, 250), rnd.uniform(0, 80)
            w.writerow([rooms, "%.1f" % area, "%.1f" % age,
                        "%.0f" % (150000 + 900 * area + 8000 * rooms - 1200 * age + rnd.gauss(0, 5000))])

def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "classify": classify(sys.argv[2])
    elif cmd == "regress": regress(sys.argv[2])
    elif cmd == "prices": prices(sys.argv[2])
    elif cmd == "accuracy":
        p, t = rows(sys.argv[2]), rows(sys.argv[3])
        assert len(p) == len(t), (len(p), len(t))
        print(sum(a["name"] == b[sys.argv[4]] for a, b in zip(p, t)) / len(t))
    elif cmd == "rmse":
        p, t = rows(sys.argv[2]), rows(sys.argv[3])
        cols = sys.argv[4].split(",")
        err = [(float(a[c]) - float(b[c])) ** 2 for a, b in zip(p, t) for c in cols]
        print(math.sqrt(sum(err) / len(err)))
