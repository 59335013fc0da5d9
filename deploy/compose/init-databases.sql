-- One role and one database per service: a service owns its tables and never reads another's.
CREATE ROLE customers LOGIN PASSWORD 'customers';
CREATE DATABASE customers OWNER customers;
CREATE ROLE billing LOGIN PASSWORD 'billing';
CREATE DATABASE billing OWNER billing;
CREATE ROLE dunning LOGIN PASSWORD 'dunning';
CREATE DATABASE dunning OWNER dunning;
CREATE ROLE reporting LOGIN PASSWORD 'reporting';
CREATE DATABASE reporting OWNER reporting;
CREATE ROLE radius_ingest LOGIN PASSWORD 'radius_ingest';
CREATE DATABASE radius_ingest OWNER radius_ingest;
CREATE ROLE support LOGIN PASSWORD 'support';
CREATE DATABASE support OWNER support;
