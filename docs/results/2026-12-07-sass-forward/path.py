import re,sys,collections
# usage: path.py file.sass a-b,c-d,...   (1-based inclusive line ranges)
L=open(sys.argv[1]).read().split('\n')
rng=[tuple(map(int,x.split('-'))) for x in sys.argv[2].split(',')]
def op(s): return re.sub(r'^@!?U?P\w+\s+','',s).split()[0].rstrip(';')
def cat(o):
    if o.startswith('HMMA'): return 'HMMA'
    if o.startswith('LDSM'): return 'LDSM'
    if o.startswith('LDGSTS'): return 'LDGSTS'
    if o.startswith('MUFU'): return 'MUFU'
    if o.startswith('SHFL'): return 'SHFL'
    if o.startswith(('FFMA','FMUL','FADD','FMNMX','FSEL','FSETP')): return 'FP32'
    if o.startswith('F2FP'): return 'F2FP(cvt)'
    if o in ('IMAD.MOV.U32','MOV','IMAD.MOV','UMOV','IMAD.U32') : return 'move'
    if o.startswith('U') or o in ('R2UR','S2UR','ULDC'): return 'uniform'
    if re.match(r'^(IMAD|IADD|LEA|LOP|SHF|SEL|ISETP|IABS|PRMT|PLOP|ICMP|IMNMX|I2F|F2I)',o): return 'int'
    if o.startswith(('LDC','BAR','DEPBAR','LDGDEPBAR','BRA','NOP','LDS','BSSY','BSYNC')): return 'ctl/other'
    return 'other:'+o
c=collections.Counter(); ops=collections.Counter()
for a,b in rng:
    for l in L[a-1:b]:
        s=l.strip()
        if not s or s.startswith('.') : continue
        if s.startswith('@!PT LDS'): c['nop-lds']+=1; continue
        o=op(s); c[cat(o)]+=1; ops[o]+=1
print('total',sum(c.values()), dict(sorted(c.items(),key=lambda x:-x[1])))
if len(sys.argv)>3: print(sorted(ops.items(),key=lambda x:-x[1]))
