#!/usr/bin/env python3
"""Writes the synthetic CWMP fixtures in this directory.

The envelopes imitate what real CPEs and ACSs send, including their quirks; they are written
by this project, not captured from devices. Run from this directory: `python3 gen_fixtures.py`.
Each fixture is also copied into the fuzz corpus (see fuzz/corpus/cwmp_decode).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD99 = "http://www.w3.org/1999/XMLSchema"
XSI99 = "http://www.w3.org/1999/XMLSchema-instance"


def write(rel, text, encoding="utf-8"):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode(encoding) if isinstance(text, str) else text
    with open(path, "wb") as f:
        f.write(data)


def envelope(body, header="", cwmp="1-0", env="SOAP-ENV", enc="SOAP-ENC", nl="\n",
             decl=True, extra_ns=""):
    d = '<?xml version="1.0" encoding="UTF-8"?>' + nl if decl else ""
    h = f"<{env}:Header>{nl}{header}</{env}:Header>{nl}" if header is not None else ""
    return (f'{d}<{env}:Envelope xmlns:{env}="{ENV}" xmlns:{enc}="{ENC}" '
            f'xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" xmlns:cwmp="urn:dslforum-org:cwmp-{cwmp}"{extra_ns}>{nl}'
            f"{h}<{env}:Body>{nl}{body}{nl}</{env}:Body>{nl}</{env}:Envelope>{nl}")


def id_header(i, env="SOAP-ENV"):
    return f'<cwmp:ID {env}:mustUnderstand="1">{i}</cwmp:ID>\n'


def pv(name, value, t="xsd:string"):
    return (f"<ParameterValueStruct><Name>{name}</Name>"
            f'<Value xsi:type="{t}">{value}</Value></ParameterValueStruct>\n')


def plist(params, enc="SOAP-ENC", count=None):
    n = len(params) if count is None else count
    return (f'<ParameterList {enc}:arrayType="cwmp:ParameterValueStruct[{n}]">\n'
            + "".join(pv(*p) for p in params) + "</ParameterList>\n")


def events(evs, enc="SOAP-ENC", count=None):
    n = len(evs) if count is None else count
    return (f'<Event {enc}:arrayType="cwmp:EventStruct[{n}]">\n'
            + "".join(f"<EventStruct><EventCode>{c}</EventCode><CommandKey>{k}</CommandKey></EventStruct>\n"
                      for c, k in evs) + "</Event>\n")


def device_id(man, oui, pc, sn):
    return (f"<DeviceId><Manufacturer>{man}</Manufacturer><OUI>{oui}</OUI>"
            f"<ProductClass>{pc}</ProductClass><SerialNumber>{sn}</SerialNumber></DeviceId>\n")


def inform(dev, evs, params, time="2024-05-01T10:00:00Z", retry="0", enc="SOAP-ENC",
           ev_count=None, p_count=None):
    return ("<cwmp:Inform>\n" + dev + events(evs, enc, ev_count) + "<MaxEnvelopes>1</MaxEnvelopes>\n"
            f"<CurrentTime>{time}</CurrentTime>\n<RetryCount>{retry}</RetryCount>\n"
            + plist(params, enc, p_count) + "</cwmp:Inform>")


# ---------------------------------------------------------------------------------------
# Parameter sets
# ---------------------------------------------------------------------------------------

IGD = "InternetGatewayDevice"


def tr098_small(sn):
    return [
        (f"{IGD}.DeviceSummary", "InternetGatewayDevice:1.4[](Baseline:1, EthernetLAN:1, WiFiLAN:1)"),
        (f"{IGD}.DeviceInfo.SpecVersion", "1.0"),
        (f"{IGD}.DeviceInfo.HardwareVersion", "HG8245-V2"),
        (f"{IGD}.DeviceInfo.SoftwareVersion", "V3R017C10S115"),
        (f"{IGD}.DeviceInfo.ProvisioningCode", ""),
        (f"{IGD}.ManagementServer.ConnectionRequestURL", "http://10.20.30.40:7547/cr"),
        (f"{IGD}.ManagementServer.ParameterKey", ""),
        (f"{IGD}.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress", "10.20.30.40"),
    ]


def tr098_big():
    p = tr098_small("x")
    p.append((f"{IGD}.DeviceInfo.UpTime", "86400", "xsd:unsignedInt"))
    p.append((f"{IGD}.ManagementServer.PeriodicInformEnable", "1", "xsd:boolean"))
    p.append((f"{IGD}.ManagementServer.PeriodicInformInterval", "3600", "xsd:unsignedInt"))
    p.append((f"{IGD}.Time.CurrentLocalTime", "2024-05-01T12:00:00+02:00", "xsd:dateTime"))
    for w in range(1, 5):
        b = f"{IGD}.LANDevice.1.WLANConfiguration.{w}."
        p += [
            (b + "Enable", "1" if w < 3 else "0", "xsd:boolean"),
            (b + "SSID", f"HomeNet-{w}"),
            (b + "Channel", str(w * 4), "xsd:unsignedInt"),
            (b + "BeaconType", "11i"),
            (b + "Standard", "n"),
            (b + "BSSID", f"00:25:9e:00:00:0{w}"),
            (b + "TotalBytesSent", str(123456789 * w), "xsd:unsignedInt"),
            (b + "TotalBytesReceived", str(987654321 + w), "xsd:unsignedInt"),
            (b + "X_HW_RFBand", "2.4GHz" if w < 3 else "5GHz"),
            (b + "PreSharedKey.1.KeyPassphrase", ""),
        ]
    for h in range(1, 31):
        b = f"{IGD}.LANDevice.1.Hosts.Host.{h}."
        p += [
            (b + "IPAddress", f"192.168.1.{100 + h}"),
            (b + "MACAddress", f"a4:5e:60:00:{h:02x}:01"),
            (b + "HostName", f"device-{h}"),
            (b + "Active", "true" if h % 3 else "false", "xsd:boolean"),
            (b + "LeaseTimeRemaining", str(-1 if h == 1 else 3600 - h), "xsd:int"),
        ]
    for c in range(1, 9):
        b = f"{IGD}.WANDevice.1.WANConnectionDevice.{c}.WANPPPConnection.1."
        p += [
            (b + "Enable", "1", "xsd:boolean"),
            (b + "ConnectionStatus", "Connected"),
            (b + "Username", f"user{c}@isp.example"),
            (b + "ExternalIPAddress", f"100.64.{c}.2"),
            (b + "Stats.EthernetBytesSent", str(10**12 + c), "xsd:unsignedLong"),
        ]
    return p


def tr181_small():
    return [
        ("Device.RootDataModelVersion", "2.15"),
        ("Device.DeviceInfo.HardwareVersion", "1.0"),
        ("Device.DeviceInfo.SoftwareVersion", "7.2.1-r3"),
        ("Device.DeviceInfo.ProvisioningCode", "FTTH-GOLD"),
        ("Device.ManagementServer.ConnectionRequestURL", "http://[2001:db8::7]:7547/"),
        ("Device.ManagementServer.ParameterKey", "pk-17"),
        ("Device.IP.Interface.1.IPv4Address.1.IPAddress", "192.0.2.10"),
        ("Device.ManagementServer.AliasBasedAddressing", "false", "xsd:boolean"),
    ]


def tr181_big():
    p = tr181_small()
    for r in range(1, 5):
        b = f"Device.WiFi.Radio.{r}."
        p += [
            (b + "Enable", "true", "xsd:boolean"),
            (b + "OperatingFrequencyBand", "2.4GHz" if r % 2 else "5GHz"),
            (b + "Channel", str(r * 6), "xsd:unsignedInt"),
            (b + "TransmitPower", "100", "xsd:int"),
            (b + "Stats.Noise", str(-90 - r), "xsd:int"),
        ]
        s = f"Device.WiFi.SSID.{r}."
        p += [
            (s + "Enable", "true", "xsd:boolean"),
            (s + "SSID", f"Fibre \u00e9t\u00e9 {r}"),
            (s + "BSSID", f"f0:9f:c2:10:20:3{r}"),
            (s + "Stats.BytesSent", str(2**40 + r), "xsd:unsignedLong"),
            (s + "Stats.BytesReceived", str(2**39 + r), "xsd:unsignedLong"),
        ]
        a = f"Device.WiFi.AccessPoint.{r}.Security."
        p += [(a + "ModeEnabled", "WPA2-Personal"), (a + "KeyPassphrase", "")]
    for h in range(1, 33):
        b = f"Device.Hosts.Host.{h}."
        p += [
            (b + "PhysAddress", f"3c:22:fb:00:{h:02x}:aa"),
            (b + "IPAddress", f"192.168.10.{h + 10}"),
            (b + "HostName", f"host{h}.lan"),
            (b + "Active", "1", "xsd:boolean"),
            (b + "X_ACME_LastSeen", f"2024-05-01T09:{h % 60:02d}:00Z", "xsd:dateTime"),
        ]
    for i in range(1, 5):
        b = f"Device.Ethernet.Interface.{i}."
        p += [
            (b + "Enable", "true", "xsd:boolean"),
            (b + "Status", "Up" if i < 3 else "Down"),
            (b + "MaxBitRate", "1000", "xsd:int"),
            (b + "Stats.PacketsSent", str(5_000_000_000 + i), "xsd:unsignedLong"),
        ]
    p.append(("Device.DeviceInfo.VendorConfigFile.1.Name", "cfg.bin"))
    p.append(("Device.Security.Certificate.1.SerialNumber", "AQIDBAUGBwg=", "xsd:base64"))
    p.append(("Device.X_ACME_Blob", "0a0b0c0d", "xsd:hexBinary"))
    return p


# ---------------------------------------------------------------------------------------
# Informs
# ---------------------------------------------------------------------------------------

def informs():
    write("tr098/huawei-style/inform-boot-8params.xml", envelope(
        inform(device_id("Huawei Technologies Co., Ltd", "00259E", "HG8245H", "48575443A1B2C3D4"),
               [("1 BOOT", ""), ("M Reboot", "reboot-42")], tr098_small("1")),
        header=id_header("1000"), cwmp="1-0"))

    big = tr098_big()
    assert len(big) >= 200, len(big)
    write("tr098/huawei-style/inform-periodic-big.xml", envelope(
        inform(device_id("Huawei Technologies Co., Ltd", "00259E", "HG8245H", "48575443A1B2C3D4"),
               [("2 PERIODIC", "")], [(n, v, *t) for n, v, *t in big]),
        header=id_header("1001"), cwmp="1-1"))

    write("tr181/prpl-style/inform-bootstrap-8params.xml", envelope(
        inform(device_id("ACME Networks", "F09FC2", "FiberGW-X1", "ACME0000000001"),
               [("0 BOOTSTRAP", ""), ("1 BOOT", "")], tr181_small()),
        header=id_header("cpe-1") , cwmp="1-2", env="soapenv", enc="soapenc"))

    big = tr181_big()
    assert len(big) >= 200, len(big)
    hdr = (id_header("cpe-2", "soapenv")
           + '<cwmp:SupportedCWMPVersions soapenv:mustUnderstand="0">1.0,1.1,1.2,1.3,1.4</cwmp:SupportedCWMPVersions>\n')
    write("tr181/prpl-style/inform-periodic-big.xml", envelope(
        inform(device_id("ACME Networks", "F09FC2", "FiberGW-X1", "ACME0000000001"),
               [("2 PERIODIC", ""), ("4 VALUE CHANGE", "")], big),
        header=hdr, cwmp="1-4", env="soapenv", enc="soapenc"))

    # No Header at all.
    write("quirks/no-header/inform.xml", envelope(
        inform(device_id("ZTE", "00D0D0", "F660", "ZTEGC8A12345"), [("6 CONNECTION REQUEST", "")],
               tr098_small("2")), header=None, cwmp="1-0"))

    # Zero-padded counts and a lying ParameterList count; zero-padded RetryCount.
    write("quirks/zero-padded/inform.xml", envelope(
        inform(device_id("ZTE", "00D0D0", "F660", "ZTEGC8A12346"),
               [("1 BOOT", ""), ("4 VALUE CHANGE", "")], tr098_small("3"),
               retry="05", ev_count="02", p_count="0011"),
        header=id_header("7"), cwmp="1-0"))

    # Children out of schema order (ParameterList first, DeviceId last, struct fields swapped).
    body = ("<cwmp:Inform>\n" + plist(tr181_small()[:3]) + "<RetryCount>1</RetryCount>\n"
            "<CurrentTime>2024-05-01T10:00:00+00:00</CurrentTime>\n<MaxEnvelopes>1</MaxEnvelopes>\n"
            '<Event SOAP-ENC:arrayType="cwmp:EventStruct[1]"><EventStruct><CommandKey></CommandKey>'
            "<EventCode>2 PERIODIC</EventCode></EventStruct></Event>\n"
            "<DeviceId><SerialNumber>SN-OOO-1</SerialNumber><OUI>A0B1C2</OUI>"
            "<Manufacturer>Out Of Order Inc</Manufacturer><ProductClass>OOO</ProductClass></DeviceId>\n"
            "</cwmp:Inform>")
    write("quirks/out-of-order/inform.xml", envelope(body, header=id_header("8"), cwmp="1-2"))

    # SOAP-ENC:Array typing and `soap` bound to the encoding namespace (used for arrayType).
    arr = (f'<cwmp:Inform>\n{device_id("Sagemcom", "C0D044", "FAST5566", "SGM12345678")}'
           '<Event xsi:type="soap:Array" soap:arrayType="cwmp:EventStruct[1]"><EventStruct>'
           "<EventCode>1 BOOT</EventCode><CommandKey/></EventStruct></Event>\n"
           "<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2024-05-01T10:00:00Z</CurrentTime>"
           "<RetryCount>0</RetryCount>\n"
           '<ParameterList xsi:type="soap:Array" soap:arrayType="cwmp:ParameterValueStruct[2]">'
           + pv(f"{IGD}.DeviceInfo.SoftwareVersion", "SG1.2.3")
           + pv(f"{IGD}.ManagementServer.ConnectionRequestURL", "http://192.0.2.50:7547/")
           + "</ParameterList>\n</cwmp:Inform>")
    write("quirks/soap-enc-array/inform.xml",
          f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:soap="{ENC}" xmlns:xsd="{XSD}" '
          f'xmlns:xsi="{XSI}" xmlns:cwmp="urn:dslforum-org:cwmp-1-1">'
          f'<soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">42</cwmp:ID></soapenv:Header>'
          f"<soapenv:Body>{arr}</soapenv:Body></soapenv:Envelope>")

    # The Envelope element itself uses a `soap` prefix bound to the encoding namespace.
    write("quirks/soap-prefix-encoding/inform.xml",
          f'<soap:Envelope xmlns:soap="{ENC}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0" '
          f'xmlns:xsi="{XSI}" xmlns:xsd="{XSD}"><soap:Header><cwmp:ID soap:mustUnderstand="1">5</cwmp:ID>'
          f"</soap:Header><soap:Body>"
          + inform(device_id("OldBox", "001122", "ADSL-1", "OB000001"), [("1 BOOT", "")],
                   tr098_small("9")[:2], enc="soap")
          + "</soap:Body></soap:Envelope>")

    # CRLF line endings, pretty printing with newlines and indentation inside values.
    pretty = (
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"%s\" xmlns:SOAP-ENC=\"%s\" xmlns:xsd=\"%s\" xmlns:xsi=\"%s\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\">\n"
        "  <SOAP-ENV:Header>\n    <cwmp:ID SOAP-ENV:mustUnderstand=\"1\">\n      77\n    </cwmp:ID>\n  </SOAP-ENV:Header>\n"
        "  <SOAP-ENV:Body>\n    <cwmp:Inform>\n      <DeviceId>\n        <Manufacturer>\n          TP-Link\n        </Manufacturer>\n"
        "        <OUI> 50C7BF </OUI>\n        <ProductClass>Archer C6</ProductClass>\n        <SerialNumber>\n          2210ABCDEF\n        </SerialNumber>\n"
        "      </DeviceId>\n      <Event SOAP-ENC:arrayType=\"cwmp:EventStruct[1]\">\n        <EventStruct>\n"
        "          <EventCode>\n            2 PERIODIC\n          </EventCode>\n          <CommandKey>\n          </CommandKey>\n        </EventStruct>\n      </Event>\n"
        "      <MaxEnvelopes> 1 </MaxEnvelopes>\n      <CurrentTime>\n        2024-05-01T10:00:00Z\n      </CurrentTime>\n      <RetryCount>0</RetryCount>\n"
        "      <ParameterList SOAP-ENC:arrayType=\"cwmp:ParameterValueStruct[2]\">\n        <ParameterValueStruct>\n"
        "          <Name>\n            InternetGatewayDevice.DeviceInfo.SoftwareVersion\n          </Name>\n"
        "          <Value xsi:type=\"xsd:string\">\n            1.0.9 Build 20230101\n          </Value>\n        </ParameterValueStruct>\n"
        "        <ParameterValueStruct>\n          <Name>InternetGatewayDevice.ManagementServer.PeriodicInformInterval</Name>\n"
        "          <Value xsi:type=\"xsd:unsignedInt\">\n 86400 \n</Value>\n        </ParameterValueStruct>\n      </ParameterList>\n"
        "    </cwmp:Inform>\n  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n") % (ENV, ENC, XSD, XSI)
    write("quirks/whitespace-crlf/inform.xml", pretty.replace("\n", "\r\n"))

    # 1999 XML Schema namespaces.
    write("quirks/xsd-1999/inform.xml",
          f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV}" xmlns:SOAP-ENC="{ENC}" xmlns:xsd="{XSD99}" '
          f'xmlns:xsi="{XSI99}" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><SOAP-ENV:Header>'
          f'<cwmp:ID SOAP-ENV:mustUnderstand="1">1999</cwmp:ID></SOAP-ENV:Header><SOAP-ENV:Body>'
          + inform(device_id("Thomson", "00147F", "TG585", "CP0723JT123"), [("1 BOOT", "")],
                   tr098_small("4")) + "</SOAP-ENV:Body></SOAP-ENV:Envelope>")

    # Single-quoted attributes everywhere.
    sq = envelope(inform(device_id("AVM", "00040E", "FRITZ!Box 7590", "AVM7590000001"),
                         [("1 BOOT", "")], tr098_small("5")), header=id_header("sq"), cwmp="1-1")
    write("quirks/single-quoted/inform.xml", sq.replace('"', "'"))

    # DateTimes: no zone, invalid, year 0001 in values.
    params = tr181_small()[:4] + [
        ("Device.Time.CurrentLocalTime", "0001-01-01T00:00:00Z", "xsd:dateTime"),
        ("Device.DeviceInfo.FirstUseDate", "1970-01-01T00:00:00", "xsd:dateTime"),
    ]
    write("quirks/datetime/inform-no-zone.xml", envelope(
        inform(device_id("ACME Networks", "F09FC2", "FiberGW-X1", "ACME0000000002"),
               [("2 PERIODIC", "")], params, time="2024-05-01T10:00:00"),
        header=id_header("dt1"), cwmp="1-2"))
    write("quirks/datetime/inform-invalid.xml", envelope(
        inform(device_id("ACME Networks", "F09FC2", "FiberGW-X1", "ACME0000000003"),
               [("2 PERIODIC", "")], params, time="2019-03-05T11:54::14"),
        header=id_header("dt2"), cwmp="1-2"))

    # `M` events with empty CommandKeys although the ACS set one.
    write("quirks/empty-commandkey/inform.xml", envelope(
        inform(device_id("Technicolor", "D4351D", "TG789", "CP1234SA567"),
               [("1 BOOT", ""), ("M Reboot", ""), ("M Download", ""), ("7 TRANSFER COMPLETE", "")],
               tr098_small("6")), header=id_header("ck"), cwmp="1-0"))

    # Parameter names with a leading dot, lower-case OUI.
    write("quirks/leading-dot/inform.xml", envelope(
        inform(device_id("Generic", "00a0b1", "Box", "GEN-0001"), [("2 PERIODIC", "")],
               [("." + n, v) for n, v in tr098_small("7")[:4]]),
        header=id_header("dot"), cwmp="1-0"))

    # ISO-8859-1 body announced in the XML declaration, non-ASCII product class.
    latin = envelope(
        inform(device_id("Soci\u00e9t\u00e9 R\u00e9seaux", "0011AA", "Routeur \u00c9volution", "SR0001"),
               [("1 BOOT", "")],
               [(f"{IGD}.DeviceInfo.Description", "Bo\u00eete \u00e0 fibre"), (f"{IGD}.DeviceInfo.SoftwareVersion", "2.0")]),
        header=id_header("latin"), cwmp="1-0").replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    write("quirks/iso-8859-1/inform.xml", latin, encoding="latin-1")

    # easycwmp/icwmp style: soap_env prefixes, XML declaration, self-closing empty leaves.
    write("easycwmp-style/inform-value-change.xml", envelope(
        inform(device_id("iopsys", "002207", "EG400", "E400A1000123"),
               [("4 VALUE CHANGE", ""), ("X 002207 FIRMWARE-ALERT", "")],
               tr181_small()[:5]).replace("<CommandKey></CommandKey>", "<CommandKey/>"),
        header=id_header("ez1", "soap_env"), cwmp="1-2", env="soap_env", enc="soap_enc"))

    # CWMP 1.3/1.4 headers, heartbeat and vendor events, NoMoreRequests.
    hdr = (id_header("hb", "SOAP-ENV") + '<cwmp:SessionTimeout SOAP-ENV:mustUnderstand="0">60</cwmp:SessionTimeout>\n'
           "<cwmp:NoMoreRequests>1</cwmp:NoMoreRequests>\n")
    write("quirks/vendor-events/inform-heartbeat.xml", envelope(
        inform(device_id("Nokia", "ACD8F6", "G-240W-F", "ALCLB1234567"),
               [("14 HEARTBEAT", ""), ("13 WAKEUP", ""), ("X ACD8F6 DYING GASP", "dg-1"), ("9 REQUEST DOWNLOAD", "")],
               tr181_small()[:3]), header=hdr, cwmp="1-3"))

    # Unknown and missing xsi:types, boolean spellings, entities, CDATA and comments in values.
    odd = [
        ("Device.DeviceInfo.X_ACME_IP", "192.0.2.1", "cwmp:IPAddress"),
        ("Device.DeviceInfo.X_ACME_Flag", "TRUE", "xsd:boolean"),
        ("Device.DeviceInfo.X_ACME_Count", "0042", "xsd:int"),
        ("Device.DeviceInfo.X_ACME_Note", "AT&amp;T &lt;b&gt; caf&#233; &#x263A;"),
        ("Device.DeviceInfo.X_ACME_Raw", "<![CDATA[<not-xml> & stuff]]>"),
        ("Device.DeviceInfo.X_ACME_Commented", "a<!-- hidden -->b"),
        ("Device.DeviceInfo.X_ACME_Spaces", "  two spaces  "),
    ]
    body = inform(device_id("ACME Networks", "F09FC2", "FiberGW-X1", "ACME0000000004"),
                  [("2 PERIODIC", "")], odd)
    body = body.replace("</ParameterList>",
                        "<ParameterValueStruct><Name>Device.DeviceInfo.X_ACME_Untyped</Name>"
                        "<Value>untyped</Value></ParameterValueStruct>\n</ParameterList>")
    body = body.replace("cwmp:ParameterValueStruct[7]", "cwmp:ParameterValueStruct[8]")
    write("quirks/value-types/inform.xml", envelope(body, header=id_header("vt"), cwmp="1-2"))


# ---------------------------------------------------------------------------------------
# One fixture per message type
# ---------------------------------------------------------------------------------------

def messages():
    styles = [
        dict(env="SOAP-ENV", enc="SOAP-ENC", cwmp="1-0"),
        dict(env="soapenv", enc="soapenc", cwmp="1-2"),
        dict(env="soap", enc="soapenc", cwmp="1-4"),
        dict(env="s", enc="e", cwmp="1-1"),
        dict(env="SOAP-ENV", enc="SOAP-ENC", cwmp="1-3"),
    ]
    # ACS side, then CPE side. Bodies reference {enc} for arrays.
    msgs = {
        "InformResponse": "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
        "TransferComplete": "<cwmp:TransferComplete><CommandKey>fw-2024-05</CommandKey><FaultStruct><FaultCode>0</FaultCode><FaultString></FaultString></FaultStruct><StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:03:21Z</CompleteTime></cwmp:TransferComplete>",
        "TransferCompleteResponse": "<cwmp:TransferCompleteResponse/>",
        "AutonomousTransferComplete": "<cwmp:AutonomousTransferComplete><AnnounceURL></AnnounceURL><TransferURL>http://files.example/fw.bin</TransferURL><IsDownload>true</IsDownload><FileType>1 Firmware Upgrade Image</FileType><FileSize>31457280</FileSize><TargetFileName>fw.bin</TargetFileName><FaultStruct><FaultCode>9010</FaultCode><FaultString>checksum mismatch</FaultString></FaultStruct><StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:01:00Z</CompleteTime></cwmp:AutonomousTransferComplete>",
        "AutonomousTransferCompleteResponse": "<cwmp:AutonomousTransferCompleteResponse></cwmp:AutonomousTransferCompleteResponse>",
        "DUStateChangeComplete": "<cwmp:DUStateChangeComplete><Results><UUID>6c7e2c50-9b0b-4d43-a8f4-0b9c1d6a4e21</UUID><DeploymentUnitRef>Device.SoftwareModules.DeploymentUnit.1.</DeploymentUnitRef><Version>1.2.0</Version><CurrentState>Installed</CurrentState><Resolved>1</Resolved><ExecutionUnitRefList>Device.SoftwareModules.ExecutionUnit.1.</ExecutionUnitRefList><StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:00:09Z</CompleteTime><Fault><FaultCode>0</FaultCode><FaultString></FaultString></Fault></Results><Results><UUID>0f3b8b1e-1111-4a4a-9c9c-222233334444</UUID><DeploymentUnitRef></DeploymentUnitRef><Version></Version><CurrentState>Failed</CurrentState><Resolved>0</Resolved><ExecutionUnitRefList></ExecutionUnitRefList><StartTime>2024-05-01T10:00:10Z</StartTime><CompleteTime>2024-05-01T10:00:11Z</CompleteTime><Fault><FaultCode>9017</FaultCode><FaultString>download failed</FaultString></Fault></Results><CommandKey>du-7</CommandKey></cwmp:DUStateChangeComplete>",
        "DUStateChangeCompleteResponse": "<cwmp:DUStateChangeCompleteResponse/>",
        "AutonomousDUStateChangeComplete": "<cwmp:AutonomousDUStateChangeComplete><Results><UUID>6c7e2c50-9b0b-4d43-a8f4-0b9c1d6a4e21</UUID><DeploymentUnitRef>Device.SoftwareModules.DeploymentUnit.1.</DeploymentUnitRef><Version>1.3.0</Version><CurrentState>Installed</CurrentState><Resolved>true</Resolved><ExecutionUnitRefList>Device.SoftwareModules.ExecutionUnit.1.</ExecutionUnitRefList><StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:00:09Z</CompleteTime><Fault><FaultCode>0</FaultCode></Fault><OperationPerformed>Update</OperationPerformed></Results></cwmp:AutonomousDUStateChangeComplete>",
        "AutonomousDUStateChangeCompleteResponse": "<cwmp:AutonomousDUStateChangeCompleteResponse/>",
        "RequestDownload": '<cwmp:RequestDownload><FileType>3 Vendor Configuration File</FileType><FileTypeArg {enc}:arrayType="cwmp:ArgStruct[2]"><ArgStruct><Name>Version</Name><Value>v2</Value></ArgStruct><ArgStruct><Name>Profile</Name><Value>gold</Value></ArgStruct></FileTypeArg></cwmp:RequestDownload>',
        "RequestDownloadResponse": "<cwmp:RequestDownloadResponse/>",
        "Kicked": "<cwmp:Kicked><Command>activate</Command><Referer>http://portal.example/start</Referer><Arg>plan=gold&amp;term=12</Arg><Next>http://portal.example/done</Next></cwmp:Kicked>",
        "KickedResponse": "<cwmp:KickedResponse><NextURL>http://portal.example/welcome</NextURL></cwmp:KickedResponse>",
        "GetRPCMethods": "<cwmp:GetRPCMethods/>",
        "GetRPCMethodsResponse": '<cwmp:GetRPCMethodsResponse><MethodList {enc}:arrayType="xsd:string[4]"><string>GetRPCMethods</string><string>GetParameterValues</string><string>SetParameterValues</string><string>Reboot</string></MethodList></cwmp:GetRPCMethodsResponse>',
        "SetParameterValues": '<cwmp:SetParameterValues><ParameterList {enc}:arrayType="cwmp:ParameterValueStruct[3]"><ParameterValueStruct><Name>Device.WiFi.SSID.1.SSID</Name><Value xsi:type="xsd:string">Home &amp; Office</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">3600</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformEnable</Name><Value xsi:type="xsd:boolean">true</Value></ParameterValueStruct></ParameterList><ParameterKey>pk-2024-05-01</ParameterKey></cwmp:SetParameterValues>',
        "SetParameterValuesResponse": "<cwmp:SetParameterValuesResponse><Status>0</Status></cwmp:SetParameterValuesResponse>",
        "GetParameterValues": '<cwmp:GetParameterValues><ParameterNames {enc}:arrayType="xsd:string[2]"><string>InternetGatewayDevice.DeviceInfo.</string><string>InternetGatewayDevice.ManagementServer.URL</string></ParameterNames></cwmp:GetParameterValues>',
        "GetParameterValuesResponse": '<cwmp:GetParameterValuesResponse><ParameterList {enc}:arrayType="cwmp:ParameterValueStruct[2]"><ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.UpTime</Name><Value xsi:type="xsd:unsignedInt">12345</Value></ParameterValueStruct><ParameterValueStruct><Name>InternetGatewayDevice.ManagementServer.URL</Name><Value xsi:type="xsd:string">https://acs.example:7547/</Value></ParameterValueStruct></ParameterList></cwmp:GetParameterValuesResponse>',
        "GetParameterNames": "<cwmp:GetParameterNames><ParameterPath>Device.WiFi.</ParameterPath><NextLevel>false</NextLevel></cwmp:GetParameterNames>",
        "GetParameterNamesResponse": '<cwmp:GetParameterNamesResponse><ParameterList {enc}:arrayType="cwmp:ParameterInfoStruct[3]"><ParameterInfoStruct><Name>Device.WiFi.</Name><Writable>0</Writable></ParameterInfoStruct><ParameterInfoStruct><Name>Device.WiFi.SSID.</Name><Writable>1</Writable></ParameterInfoStruct><ParameterInfoStruct><Name>Device.WiFi.SSID.1.SSID</Name><Writable>1</Writable></ParameterInfoStruct></ParameterList></cwmp:GetParameterNamesResponse>',
        "SetParameterAttributes": '<cwmp:SetParameterAttributes><ParameterList {enc}:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><NotificationChange>1</NotificationChange><Notification>2</Notification><AccessListChange>1</AccessListChange><AccessList {enc}:arrayType="xsd:string[1]"><string>Subscriber</string></AccessList></SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>',
        "SetParameterAttributesResponse": "<cwmp:SetParameterAttributesResponse/>",
        "GetParameterAttributes": '<cwmp:GetParameterAttributes><ParameterNames {enc}:arrayType="xsd:string[1]"><string>Device.DeviceInfo.</string></ParameterNames></cwmp:GetParameterAttributes>',
        "GetParameterAttributesResponse": '<cwmp:GetParameterAttributesResponse><ParameterList {enc}:arrayType="cwmp:ParameterAttributeStruct[2]"><ParameterAttributeStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><Notification>2</Notification><AccessList {enc}:arrayType="xsd:string[0]"></AccessList></ParameterAttributeStruct><ParameterAttributeStruct><Name>Device.DeviceInfo.UpTime</Name><Notification>0</Notification><AccessList {enc}:arrayType="xsd:string[1]"><string>Subscriber</string></AccessList></ParameterAttributeStruct></ParameterList></cwmp:GetParameterAttributesResponse>',
        "AddObject": "<cwmp:AddObject><ObjectName>Device.NAT.PortMapping.</ObjectName><ParameterKey>add-1</ParameterKey></cwmp:AddObject>",
        "AddObjectResponse": "<cwmp:AddObjectResponse><InstanceNumber>4</InstanceNumber><Status>0</Status></cwmp:AddObjectResponse>",
        "DeleteObject": "<cwmp:DeleteObject><ObjectName>Device.NAT.PortMapping.4.</ObjectName><ParameterKey>del-1</ParameterKey></cwmp:DeleteObject>",
        "DeleteObjectResponse": "<cwmp:DeleteObjectResponse><Status>1</Status></cwmp:DeleteObjectResponse>",
        "Reboot": "<cwmp:Reboot><CommandKey>reboot-42</CommandKey></cwmp:Reboot>",
        "RebootResponse": "<cwmp:RebootResponse/>",
        "Download": "<cwmp:Download><CommandKey>fw-2024-05</CommandKey><FileType>1 Firmware Upgrade Image</FileType><URL>https://files.example/fw/HG8245H-V3R017C10S120.bin</URL><Username>cpe</Username><Password>s3cr&lt;t</Password><FileSize>31457280</FileSize><TargetFileName>fw.bin</TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>",
        "DownloadResponse": "<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:DownloadResponse>",
        "Upload": "<cwmp:Upload><CommandKey>cfg-up</CommandKey><FileType>1 Vendor Configuration File</FileType><URL>https://files.example/upload/</URL><Username></Username><Password></Password><DelaySeconds>10</DelaySeconds></cwmp:Upload>",
        "UploadResponse": "<cwmp:UploadResponse><Status>0</Status><StartTime>2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:00:02Z</CompleteTime></cwmp:UploadResponse>",
        "FactoryReset": "<cwmp:FactoryReset/>",
        "FactoryResetResponse": "<cwmp:FactoryResetResponse/>",
        "GetQueuedTransfers": "<cwmp:GetQueuedTransfers/>",
        "GetQueuedTransfersResponse": '<cwmp:GetQueuedTransfersResponse><TransferList {enc}:arrayType="cwmp:QueuedTransferStruct[2]"><QueuedTransferStruct><CommandKey>fw-1</CommandKey><State>2</State></QueuedTransferStruct><QueuedTransferStruct><CommandKey>cfg-1</CommandKey><State>1</State></QueuedTransferStruct></TransferList></cwmp:GetQueuedTransfersResponse>',
        "GetAllQueuedTransfers": "<cwmp:GetAllQueuedTransfers/>",
        "GetAllQueuedTransfersResponse": '<cwmp:GetAllQueuedTransfersResponse><TransferList {enc}:arrayType="cwmp:AllQueuedTransferStruct[1]"><AllQueuedTransferStruct><CommandKey>fw-1</CommandKey><State>2</State><IsDownload>1</IsDownload><FileType>1 Firmware Upgrade Image</FileType><FileSize>1048576</FileSize><TargetFileName></TargetFileName></AllQueuedTransferStruct></TransferList></cwmp:GetAllQueuedTransfersResponse>',
        "ScheduleInform": "<cwmp:ScheduleInform><DelaySeconds>300</DelaySeconds><CommandKey>si-1</CommandKey></cwmp:ScheduleInform>",
        "ScheduleInformResponse": "<cwmp:ScheduleInformResponse/>",
        "ScheduleDownload": '<cwmp:ScheduleDownload><CommandKey>sd-1</CommandKey><FileType>1 Firmware Upgrade Image</FileType><URL>https://files.example/fw.bin</URL><Username></Username><Password></Password><FileSize>0</FileSize><TargetFileName></TargetFileName><TimeWindowList {enc}:arrayType="cwmp:TimeWindowStruct[2]"><TimeWindowStruct><WindowStart>0</WindowStart><WindowEnd>3600</WindowEnd><WindowMode>3 When Idle</WindowMode><UserMessage></UserMessage><MaxRetries>-1</MaxRetries></TimeWindowStruct><TimeWindowStruct><WindowStart>86400</WindowStart><WindowEnd>90000</WindowEnd><WindowMode>4 Confirmation Needed</WindowMode><UserMessage>A firmware update is ready. Install now?</UserMessage><MaxRetries>2</MaxRetries></TimeWindowStruct></TimeWindowList></cwmp:ScheduleDownload>',
        "ScheduleDownloadResponse": "<cwmp:ScheduleDownloadResponse/>",
        "CancelTransfer": "<cwmp:CancelTransfer><CommandKey>sd-1</CommandKey></cwmp:CancelTransfer>",
        "CancelTransferResponse": "<cwmp:CancelTransferResponse/>",
        "ChangeDUState": '<cwmp:ChangeDUState><Operations xsi:type="cwmp:InstallOpStruct"><URL>https://apps.example/speedtest.ipk</URL><UUID>6c7e2c50-9b0b-4d43-a8f4-0b9c1d6a4e21</UUID><Username>u</Username><Password>p</Password><ExecutionEnvRef>Device.SoftwareModules.ExecEnv.1.</ExecutionEnvRef></Operations><Operations xsi:type="cwmp:UpdateOpStruct"><UUID>0f3b8b1e-1111-4a4a-9c9c-222233334444</UUID><Version>2.0</Version></Operations><Operations xsi:type="cwmp:UninstallOpStruct"><UUID>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</UUID><ExecutionEnvRef>Device.SoftwareModules.ExecEnv.1.</ExecutionEnvRef></Operations><CommandKey>du-7</CommandKey></cwmp:ChangeDUState>',
        "ChangeDUStateResponse": "<cwmp:ChangeDUStateResponse/>",
    }
    for i, (name, body) in enumerate(msgs.items()):
        st = styles[i % len(styles)]
        b = body.replace("{enc}", st["enc"])
        write(f"messages/{name}.xml",
              envelope(b, header=id_header(f"msg-{i}", st["env"]), cwmp=st["cwmp"], env=st["env"],
                       enc=st["enc"], decl=(i % 2 == 0)))

    # Faults.
    spv_fault = ("<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>CWMP fault</faultstring>"
                 "<detail><cwmp:Fault><FaultCode>9003</FaultCode><FaultString>Invalid arguments</FaultString>"
                 "<SetParameterValuesFault><ParameterName>Device.WiFi.SSID.1.SSID</ParameterName>"
                 "<FaultCode>9007</FaultCode><FaultString>Invalid parameter value</FaultString></SetParameterValuesFault>"
                 "<SetParameterValuesFault><ParameterName>Device.DeviceInfo.SoftwareVersion</ParameterName>"
                 "<FaultCode>9008</FaultCode><FaultString>Attempt to set a non-writable parameter</FaultString>"
                 "</SetParameterValuesFault></cwmp:Fault></detail></SOAP-ENV:Fault>")
    write("faults/cpe-spv-fault.xml", envelope(spv_fault, header=id_header("spv"), cwmp="1-0"))
    vendor = ("<soapenv:Fault><faultcode>Server</faultcode><faultstring>CWMP fault</faultstring>"
              "<detail><cwmp:Fault><FaultCode>9805</FaultCode><FaultString>vendor: flash busy</FaultString>"
              "</cwmp:Fault></detail></soapenv:Fault>")
    write("faults/cpe-vendor-fault.xml", envelope(vendor, header=id_header("vf", "soapenv"), cwmp="1-2",
                                                  env="soapenv", enc="soapenc"))
    # Malformed in the field: undeclared `cwmp` prefix on the fault detail, detail nested
    # one level too deep, lower-case element names.
    write("faults/cpe-malformed-fault.xml",
          f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><soap:Fault><faultcode>Server</faultcode>'
          "<faultstring>CWMP fault</faultstring><detail><wrapper><cwmp:Fault><faultcode>9002</faultcode>"
          "<faultstring>Internal error</faultstring></cwmp:Fault></wrapper></detail></soap:Fault></soap:Body></soap:Envelope>")
    acs = ("<soap-env:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault>"
           "<FaultCode>8003</FaultCode><FaultString>Invalid arguments</FaultString></cwmp:Fault></detail></soap-env:Fault>")
    write("faults/acs-8003.xml", envelope(acs, header=id_header("acsf", "soap-env"), cwmp="1-4",
                                          env="soap-env", enc="soap-enc", decl=False))


# ---------------------------------------------------------------------------------------
# Large responses (benchmarks)
# ---------------------------------------------------------------------------------------

def large():
    params = []
    for i in range(1, 1001):
        k = i % 5
        base = f"Device.Hosts.Host.{(i - 1) // 5 + 1}."
        if k == 0:
            params.append((base + "Active", "true", "xsd:boolean"))
        elif k == 1:
            params.append((base + "IPAddress", f"10.{i // 250}.{i % 250}.1"))
        elif k == 2:
            params.append((base + "PhysAddress", f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"))
        elif k == 3:
            params.append((base + "HostName", f"client-{i}"))
        else:
            params.append((base + "LeaseTimeRemaining", str(86400 - i), "xsd:int"))
    body = ("<cwmp:GetParameterValuesResponse>" + plist(params, "soapenc")
            + "</cwmp:GetParameterValuesResponse>")
    write("large/gpv-response-1000.xml", envelope(body, header=id_header("big-1", "soapenv"),
                                                  cwmp="1-2", env="soapenv", enc="soapenc"))


# ---------------------------------------------------------------------------------------
# Envelopes that must be rejected (the integration test maps file name -> error)
# ---------------------------------------------------------------------------------------

def invalid():
    write("invalid/unknown-method.xml", envelope("<cwmp:SetVouchers><VoucherList/></cwmp:SetVouchers>",
                                                 header=id_header("uk-1"), cwmp="1-2"))
    write("invalid/doctype.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">]>\n'
          + envelope("<cwmp:GetRPCMethods/>", header=id_header("dt"), decl=False))
    write("invalid/wrong-envelope-namespace.xml",
          '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
          'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><env:Body><cwmp:GetRPCMethods/></env:Body></env:Envelope>')
    write("invalid/no-body.xml", envelope("", header=id_header("nb")).replace(
        "<SOAP-ENV:Body>\n\n</SOAP-ENV:Body>\n", ""))
    write("invalid/inform-without-serial.xml", envelope(
        inform("<DeviceId><Manufacturer>X</Manufacturer><OUI>001122</OUI><ProductClass>Y</ProductClass>"
               "<SerialNumber></SerialNumber></DeviceId>\n", [("1 BOOT", "")], []),
        header=id_header("ns-1"), cwmp="1-0"))
    write("invalid/invalid-utf8.xml", envelope(
        "<cwmp:Reboot><CommandKey>\x00</CommandKey></cwmp:Reboot>", header=id_header("u8"))
        .encode("utf-8").replace(b"\x00", b"\xff\xfe\xc3"))
    write("invalid/not-an-envelope.xml", '<html><body>502 Bad Gateway</body></html>')


if __name__ == "__main__":
    informs()
    messages()
    large()
    invalid()
