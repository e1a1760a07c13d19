import numpy as np
from mathocr.web.handwriting import render
from mathocr import segmentation as S
for text,size,pen in [('96-(5*10)',(600,200),16.7),('-38*(46+35)',(400,150),8.3),('1*(16*14)-6',(600,200),16.7),('(89/4)*28',(900,300),25.0),('96-(5*10)',(600,200),11.1)]:
    img=np.asarray(render(text,size=size,pen=pen)); seg=S.segment(img)
    out=[]
    for s in seg.segments:
        own=s.crop>0; rows=np.flatnonzero(own.any(1)); cols=np.flatnonzero(own.any(0)); o=own[rows[0]:rows[-1]+1, cols[0]:cols[-1]+1]
        out.append((s.box[3], round(s.box[3]/seg.line_height,2), round(o.shape[1]/o.shape[0],2), S._bracket_shape(o), s.flags))
    print(text, pen, round(seg.line_height), out)
