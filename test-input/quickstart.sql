-- The quick start's source database: the four tables of test-input/full_load.json and
-- test-input/kinesis_test_input.json, holding what they hold after those changes. Load it into
-- a scratch database and compare the quick start's lake with it (README: "Is my lake right?"):
--   createdb shop && psql -d shop -f test-input/quickstart.sql
--   cdc-sink reconcile --source postgres://localhost/shop --out out/
CREATE SCHEMA IF NOT EXISTS sales;
DROP TABLE IF EXISTS public.customers, public.orders, public.order_items, sales.refunds;

CREATE TABLE public.customers (
  id int PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  tier text,
  active boolean NOT NULL,
  created_at timestamp NOT NULL
);
INSERT INTO public.customers VALUES
  (1, 'ana.silva@example.com', 'Ana Silva', '{"tier": "gold", "since": 2021}', true, '2024-03-14 09:21:44.318204'),
  (3, 'mei.lin@example.net', 'Mei Lin', '{"tier": "bronze", "referral": "SPRING25"}', false, '2024-09-30 22:47:13.506118'),
  (4, 'lukas.brandt@example.de', 'Lukas Brandt', NULL, true, '2025-01-07 08:00:00'),
  (9, 'chloe.martin@example.fr', 'Chloé Martin', '{"tier": "silver", "since": 2025}', true, '2025-11-03 23:59:41.196022');

CREATE TABLE public.orders (
  id int PRIMARY KEY,
  customer_id int NOT NULL,
  total numeric(10,2) NOT NULL,
  status text NOT NULL,
  placed_at timestamp NOT NULL,
  note text,
  shipped_on date
);
INSERT INTO public.orders VALUES
  (1001, 1, 42.50, 'paid', '2025-10-28 14:02:19.734418', NULL, NULL),
  (1002, 3, 19.99, 'shipped', '2025-10-30 09:45:00', 'Ring the bell twice', '2025-10-31'),
  (1003, 4, 230.00, 'pending', '2025-11-02 21:13:57.002391', NULL, NULL),
  (1042, 9, 32.40, 'paid', '2025-11-03 23:59:52.611402', 'Honey out of stock, line removed', NULL),
  (1043, 2, 129.00, 'pending', '2025-11-04 00:00:09', 'Gift wrap, please', NULL);

CREATE TABLE public.order_items (
  order_id int NOT NULL,
  line_no int NOT NULL,
  sku varchar(32) NOT NULL,
  qty int NOT NULL,
  price numeric(28,6) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
INSERT INTO public.order_items VALUES
  (1001, 1, 'COFFEE-ETHIOPIA-1KG', 1, 34.00),
  (1001, 2, 'FILTER-PAPER-100', 2, 4.25),
  (1002, 1, 'TEA-SENCHA-100G', 1, 19.99),
  (1042, 1, 'TEA-EARLGREY-250G', 2, 8.95),
  (1042, 2, 'MUG-STONEWARE-BLUE', 1, 14.50);

CREATE TABLE sales.refunds (
  id bigint PRIMARY KEY,
  order_id int NOT NULL,
  amount float8 NOT NULL,
  reason text,
  payload bytea
);
INSERT INTO sales.refunds VALUES
  (5000000001, 1002, 19.99, 'Damaged in transit', '\x7B22726D61223A22524D412D32303235313130312D30303037227D'),
  (5000000002, 1001, 8.5, NULL, NULL);
